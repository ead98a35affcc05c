"""Training the shared models (mclib.zoo) once, before grading: sandboxed kernels see the model
cache read-only (so one submission cannot plant a model for the others) and would otherwise each
train their own copy."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from .course import isolated_env, notebook_path

__all__ = ["warm_model_cache"]


def warm_model_cache(lessons, root: Path) -> None:
    """Train the shared models the lessons use (mclib.zoo) before grading, once for the machine:
    sandboxed kernels see the model cache read-only (so that one submission cannot plant a model
    for the others) and would otherwise each train their own copy."""
    if not any("zoo" in notebook_path(l, "solutions", root).read_text(encoding="utf-8")
               for l in lessons):
        return
    with tempfile.TemporaryDirectory(prefix="mc-warm-") as private:
        env = isolated_env(Path(root), Path(private))
        proc = subprocess.run([sys.executable, "-c", "from mclib import zoo\n"
                               "for make in zoo.RECIPES.values(): make()"], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training the shared models (mclib.zoo) failed:\n{proc.stderr[-2000:]}")
