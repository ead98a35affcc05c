"""Trained weights of the zoo's models, shipped inside mclib so a learner's first lesson does not
spend minutes training them (``mclib.train.cached_model`` reads them when the cache lacks a model).

Each file is the ``state_dict`` of one ``mclib.zoo`` recipe, named ``<name>-v<version>.pt`` after the
recipe's cache name and version, trained by that recipe (torch 2.13.0, CPU, one thread) and listed
with its SHA-256 in ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks them by hand). A file whose
hash does not match is ignored with a warning, and the model is trained instead.
``tests/test_zoo_weights.py`` checks that each file is what a fresh training of its recipe gives.

``MCLIB_SHIPPED_WEIGHTS=0`` ignores them (to measure or test the training path).
To regenerate after changing a recipe (bump its version first):
``python -m mclib.weights`` trains every recipe afresh and rewrites the files and SHA256SUMS.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

__all__ = ["FOLDER", "enabled", "path_of", "expected_hashes", "sha256", "load"]

FOLDER = Path(__file__).resolve().parent
SUMS = FOLDER / "SHA256SUMS"


def enabled() -> bool:
    """Shipped weights are used unless MCLIB_SHIPPED_WEIGHTS is 0, false or no."""
    return os.environ.get("MCLIB_SHIPPED_WEIGHTS", "1").strip().lower() not in ("0", "false", "no")


def path_of(name: str, version: str) -> Path:
    return FOLDER / f"{name}-v{version}.pt"


def expected_hashes() -> dict[str, str]:
    """file name -> SHA-256 hex digest, from SHA256SUMS."""
    if not SUMS.is_file():
        return {}
    out = {}
    for line in SUMS.read_text().splitlines():
        if line.strip():
            digest, fname = line.split(maxsplit=1)
            out[fname.lstrip("*").strip()] = digest
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(name: str, version: str) -> dict | None:
    """The shipped state_dict of recipe ``name`` at ``version``, or None when there is none (or
    shipped weights are switched off, or the file fails its hash check)."""
    import torch

    path = path_of(name, version)
    if not enabled() or not path.is_file():
        return None
    expected = expected_hashes().get(path.name)
    if expected is None or sha256(path) != expected:
        warnings.warn(f"{path} does not match its SHA-256 in {SUMS.name}; ignoring it and training "
                      f"{name} instead", RuntimeWarning, stacklevel=3)
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
