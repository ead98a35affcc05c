"""Shared fixtures. Every test session runs with its own HOME, Jupyter and IPython folders and model
cache, so nothing leaks into (or out of) the machine's configuration."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_PRIVATE = Path(tempfile.mkdtemp(prefix="mc-tests-"))
for _var, _sub in [("HOME", "home"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                   ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
                   ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib")]:
    os.environ[_var] = str(_PRIVATE / _sub)
# The trained-model cache is shared by the test session's notebooks (trained once per session)
# unless the caller points MCLIB_CACHE somewhere on purpose.
os.environ.setdefault("MCLIB_CACHE", str(_PRIVATE / "mclib-cache"))
os.environ["MCLIB_PROGRESS"] = "0"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def seeded():
    import torch
    torch.manual_seed(0)
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def trained_models_cached(request):
    """Train the shared zoo models once, before any notebook runs, so that no lesson pays for
    training inside its (timed) grading run."""
    if not any(item.get_closest_marker("notebooks") for item in request.session.items):
        return
    from mclib import zoo
    for recipe in zoo.RECIPES.values():
        recipe()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test that executes notebooks or drives the browser is slow (a kernel or a browser per
    test, tens of seconds to minutes): marked so here, so `make test` (-m "not slow") stays under
    15 minutes even where a test forgot the marker, and `make test-slow` runs them all."""
    for item in items:
        if item.get_closest_marker("notebooks") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
