"""Seeded training and evaluation loops, and a cache of trained models.

``fit`` trains any classifier with a plain loop (so the lessons can hook into it: re-applying
pruning masks after each step, a distillation loss, fake quantization) and shows a tqdm progress
bar in Jupyter or a terminal, nothing when output is not interactive or ``MCLIB_PROGRESS=0``.
Runs are deterministic for a given seed on a given machine: ``fit`` seeds the global generators
(dropout) and re-seeds the loader's own shuffling generator (batch order); seed the model's
initialisation yourself before building it.

``cached_model`` trains a model once and keeps its weights in the cache folder
(``$MCLIB_CACHE``, default ``~/.cache/mclib``), so a teacher or a baseline that several lessons use
costs its training time only the first time. Weights shipped inside the package (``mclib/weights``,
see ``mclib.weights``) stand in for a cache that lacks them, so even the first time costs nothing.

Devices: everything runs on the CPU unless the caller asks for another device. The course's models
are tiny and its lessons' numbers were checked on the CPU; a learner's GPU must not change them
(or break a later cell that mixes a GPU model with CPU tensors). So ``fit``, ``predict`` and
``evaluate`` compute where the model already is (the CPU, unless the caller moved it), take an
explicit ``device=`` to compute elsewhere, and always hand the model back on the device it came in
on; ``cached_model`` returns CPU models.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import weights as shipped_weights
from .data import cache_dir

__all__ = ["num_threads", "seed_everything", "default_device", "model_device", "progress_enabled",
           "progress", "History", "fit", "evaluate", "predict", "cached_model"]


@contextlib.contextmanager
def num_threads(n: int):
    """Run the block with torch limited to ``n`` CPU threads, then restore the previous setting."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of threads, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """The CPU, whatever accelerators the machine has: the course's models are tiny and its
    results were checked on the CPU. Pass ``device=`` to a helper to use another device."""
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device ``model``'s parameters and buffers are on (the CPU for a model with none)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    devices = {t.device for t in itertools.chain(model.parameters(), model.buffers())}
    if len(devices) > 1:
        raise ValueError(f"the model's tensors are on several devices ({sorted(map(str, devices))}); "
                         f"move it to one with model.to(device) first")
    return devices.pop() if devices else default_device()


def _as_device(device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch.device or a name such as 'cpu' or 'cuda', "
                         f"got {device!r}") from None


@contextlib.contextmanager
def _on(model: nn.Module, device):
    """Run the block with ``model`` on ``device`` (None: where it is), then move it back to the
    device it came in on, even when the block fails. Yields the device used."""
    home = model_device(model)
    target = home if device is None else _as_device(device)
    if target != home:
        model.to(target)
    try:
        yield target
    finally:
        if target != home:
            model.to(home)


def progress_enabled() -> bool:
    """Progress bars show in Jupyter and in terminals, unless MCLIB_PROGRESS=0."""
    flag = os.environ.get("MCLIB_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no", "")
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def progress(iterable, total=None, desc=None, enabled: bool | None = None):
    """``tqdm.auto`` around ``iterable`` when progress bars are enabled, else the iterable."""
    if enabled is None:
        enabled = progress_enabled()
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False)


@dataclass
class History:
    """Per-epoch mean training loss and (when a validation loader was given) validation accuracy."""

    train_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)


def _check_loader(loader, name="loader"):
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"{name} must be an iterable of (inputs, labels) batches, "
                        f"e.g. a DataLoader; got {type(loader).__name__}")


def fit(model: nn.Module, loader, epochs: int, lr: float = 1e-3, optimizer: str = "adam",
        weight_decay: float = 0.0, loss_fn: Callable | None = None, val_loader=None,
        seed: int = 0, after_step: Callable[[nn.Module], None] | None = None,
        device: torch.device | str | None = None, desc: str = "training",
        show_progress: bool | None = None) -> History:
    """Train ``model`` in place for ``epochs`` passes over ``loader``.

    ``loss_fn(logits, labels)`` defaults to cross-entropy. ``optimizer`` is "adam" or "sgd"
    (momentum 0.9). ``after_step(model)`` runs after every optimizer step, for example to re-apply
    pruning masks. Trains where the model is (the CPU unless you moved it) or on ``device`` when
    given; either way the model ends on the device it came in on, in eval mode. Returns a History.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader(loader)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    loss_fn = loss_fn or F.cross_entropy
    with _on(model, device) as device:
        return _fit(model, loader, epochs, lr, optimizer, weight_decay, loss_fn, val_loader, seed,
                    after_step, device, desc, show_progress)


def _fit(model, loader, epochs, lr, optimizer, weight_decay, loss_fn, val_loader, seed, after_step,
         device, desc, show_progress) -> History:
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    seed_everything(seed)
    # A DataLoader that shuffles with its own generator would otherwise give a different batch
    # order on every call; re-seeding it makes each fit(seed=...) call repeatable.
    loader_generator = getattr(loader, "generator", None)
    if isinstance(loader_generator, torch.Generator):
        loader_generator.manual_seed(seed)
    history = History()
    for _ in progress(range(epochs), total=epochs, desc=desc, enabled=show_progress):
        model.train()
        total, count = 0.0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(model)
            total += float(loss.detach()) * len(y)
            count += len(y)
        history.train_loss.append(total / max(count, 1))
        if val_loader is not None:
            history.val_accuracy.append(evaluate(model, val_loader, device=device))
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode, computed in batches where the model is (or on
    ``device``, moving the model back afterwards), returned on the CPU."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of inputs, got {type(x).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    was_training = model.training
    with _on(model, device) as device:
        model.eval()
        try:
            outs = [model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
        finally:
            model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device | str | None = None) -> float:
    """Top-1 accuracy (a fraction in [0, 1]) of ``model`` over ``loader``, in eval mode, computed
    where the model is (or on ``device``, moving the model back afterwards)."""
    _check_loader(loader)
    was_training = model.training
    correct = seen = 0
    with _on(model, device) as device:
        model.eval()
        try:
            for x, y in loader:
                pred = model(x.to(device)).argmax(dim=1).cpu()
                correct += int((pred == y.cpu()).sum())
                seen += len(y)
        finally:
            model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate got an empty loader")
    return correct / seen


def _rebuilt(build: Callable[[], nn.Module], seed: int, state: dict) -> nn.Module:
    """``build()`` from ``seed`` with ``state`` loaded, in eval mode. Both ways out of
    ``cached_model`` end here, so a model trained just now and one read from a file come back
    alike: no gradients, no optimizer leftovers, requires_grad as ``build`` set it, the same
    weights, and the global random generators in the same state afterwards."""
    seed_everything(seed)
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build() must return a torch.nn.Module, got {type(model).__name__}")
    model.load_state_dict(state)
    return model.eval()


def cached_model(name: str, build: Callable[[], nn.Module], train: Callable[[nn.Module], None],
                 version: str = "1", seed: int = 0, retrain: bool = False) -> nn.Module:
    """The model ``build()`` trained by ``train(model)``: from the cache when it is there, else
    from the weights shipped with mclib (``mclib/weights``) when they exist, else trained now and
    saved to the cache (``retrain=True`` always trains).

    The cache key is ``name``, ``version`` (bump it when the recipe changes) and the torch version.
    Writes are atomic, so parallel processes never read a half-written file. However it was
    obtained, the model comes back the same: a fresh ``build()`` (seeded with ``seed``) holding
    the trained weights, on the CPU, in eval mode, parameters requiring gradients as ``build``
    made them, no ``.grad``.
    """
    if not name or any(c in name for c in "/\\ "):
        raise ValueError(f"name must be a non-empty identifier without slashes or spaces, got {name!r}")
    folder = cache_dir() / "models"
    path = folder / f"{name}-v{version}-torch{torch.__version__.split('+')[0]}.pt"
    if path.exists() and not retrain:
        return _rebuilt(build, seed, torch.load(path, map_location="cpu", weights_only=True))
    shipped = None if retrain else shipped_weights.load(name, version)
    if shipped is not None:
        return _rebuilt(build, seed, shipped)
    seed_everything(seed)
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build() must return a torch.nn.Module, got {type(model).__name__}")
    train(model)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    os.close(fd)
    torch.save(state, tmp)
    Path(tmp).replace(path)
    return _rebuilt(build, seed, state)
