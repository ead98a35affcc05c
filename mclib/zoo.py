"""Trained models that more than one lesson uses, each trained once and then read from the cache.

Every recipe is fixed (data split, seed, epochs, optimiser, and one CPU thread) so that every learner
gets the same model on the same machine: the number of threads changes the order of floating-point
sums, so training with it unpinned gave slightly different weights depending on who filled the
cache. One thread is also the fastest for these tiny networks. Bump a recipe's version when you
change it, so stale caches are not used (and regenerate the shipped weights: ``python -m
mclib.weights``).

Every function returns the same model whether it was trained just now, read from the cache or read
from the weights shipped in ``mclib/weights``: a freshly built network holding the trained weights,
on the CPU, in eval mode, every parameter with ``requires_grad=True`` (so a lesson can fine-tune
it) and no ``.grad``. Each call returns a new object, so changing one never changes the next.
"""
from __future__ import annotations

from torch import nn

from .data import load_digits, make_loaders
from .models import MLP, DigitsAlexNet, DigitsCNN, lenet_300_100
from .train import cached_model, fit, num_threads

__all__ = ["digits_teacher", "digits_lenet300", "digits_cnn", "digits_alexnet", "RECIPES", "VERSIONS"]

#: recipe name -> its version (part of the cache key and of the shipped file's name)
VERSIONS = {"digits-teacher": "2", "digits-lenet300": "2", "digits-cnn": "2", "digits-alexnet": "2"}


def _trainer(flat: bool, epochs: int, lr: float = 1e-3, desc: str = "training"):
    def train(model: nn.Module) -> None:
        train_loader, _, _ = make_loaders(load_digits(flat=flat, seed=0), batch_size=64, seed=0)
        with num_threads(1):
            fit(model, train_loader, epochs=epochs, lr=lr, seed=0, desc=desc)
    return train


def digits_teacher(retrain: bool = False) -> MLP:
    """A wide MLP (64-512-512-10, dropout 0.2) trained on the digits: the distillation teacher."""
    return cached_model("digits-teacher", lambda: MLP([64, 512, 512, 10], dropout=0.2),
                        _trainer(flat=True, epochs=60, desc="teacher"),
                        version=VERSIONS["digits-teacher"], retrain=retrain)


def digits_lenet300(retrain: bool = False) -> MLP:
    """LeNet-300-100 (64-300-100-10) trained 60 epochs on the digits: the dense baseline."""
    return cached_model("digits-lenet300", lambda: lenet_300_100(64),
                        _trainer(flat=True, epochs=60, desc="LeNet-300-100"),
                        version=VERSIONS["digits-lenet300"], retrain=retrain)


def digits_cnn(retrain: bool = False) -> DigitsCNN:
    """DigitsCNN(16, 32) trained 30 epochs on the 1x8x8 digits."""
    return cached_model("digits-cnn", lambda: DigitsCNN((16, 32)),
                        _trainer(flat=False, epochs=30, desc="DigitsCNN"),
                        version=VERSIONS["digits-cnn"], retrain=retrain)


def digits_alexnet(retrain: bool = False) -> DigitsAlexNet:
    """DigitsAlexNet((32, 64, 96), (256, 128)) trained 25 epochs on the 1x8x8 digits (Adam 1e-3,
    batch 64, seed 0): lesson 05's network to decompose."""
    return cached_model("digits-alexnet", lambda: DigitsAlexNet(),
                        _trainer(flat=False, epochs=25, desc="DigitsAlexNet"),
                        version=VERSIONS["digits-alexnet"], retrain=retrain)


#: name -> function returning the trained model
RECIPES = {"digits-teacher": digits_teacher, "digits-lenet300": digits_lenet300,
           "digits-cnn": digits_cnn, "digits-alexnet": digits_alexnet}
