"""Checks for the lessons' visible tests, with messages a learner can act on.

Every failure raises ``CheckFailed`` (an AssertionError, so nbgrader scores the cell as failed) whose
message says what was checked, what was expected, what came back and, where given, a hint:

    count_parameters(MLP([4, 3, 2])): expected 23, got 20.
    Hint: did you count the biases?

``forbid_calls(module)`` switches a module's functions off for a while, so that a graded
exercise is checked on the learner's own code rather than on the mclib function that does the same.
"""
from __future__ import annotations

import contextlib
import types

import numpy as np
import torch

__all__ = ["CheckFailed", "check", "check_equal", "check_close", "check_shape", "check_type",
           "check_raises", "forbid_calls"]


class CheckFailed(AssertionError):
    """A visible test failed; the message says what was expected and what came back."""


def _fail(what: str, expected, got, hint: str | None):
    msg = f"{what}: expected {expected}, got {got}."
    if hint:
        msg += f"\nHint: {hint}"
    raise CheckFailed(msg)


def _short(value, limit: int = 200) -> str:
    if isinstance(value, torch.Tensor):
        text = (f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
                if value.numel() > 16 else repr(value))
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check(condition: bool, what: str, hint: str | None = None) -> None:
    """Fail with ``what`` (and the hint) unless ``condition`` is true."""
    if not condition:
        raise CheckFailed(what + (f"\nHint: {hint}" if hint else ""))


def check_type(value, types_, what: str, hint: str | None = None) -> None:
    """``value`` is an instance of ``types_`` (a type or a tuple of types). bool does not pass for int."""
    ok = isinstance(value, types_) and not (isinstance(value, bool) and bool not in
                                            (types_ if isinstance(types_, tuple) else (types_,)))
    if not ok:
        names = (types_.__name__ if isinstance(types_, type)
                 else " or ".join(t.__name__ for t in types_))
        _fail(what, f"a value of type {names}", f"{type(value).__name__} {_short(value)}", hint)


def check_equal(actual, expected, what: str, hint: str | None = None) -> None:
    """Exact equality; tensors and arrays must match in shape and every element."""
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        a = torch.as_tensor(np.asarray(actual)) if not isinstance(actual, torch.Tensor) else actual
        e = torch.as_tensor(expected)
        if tuple(a.shape) != tuple(e.shape):
            _fail(what, f"shape {tuple(e.shape)}", f"shape {tuple(a.shape)}", hint)
        if not torch.equal(a.to(e.dtype) if a.dtype != e.dtype else a, e):
            diff = (a.to(e.dtype) != e).sum().item()
            _fail(what, _short(e), f"{_short(a)} ({diff} of {e.numel()} entries differ)", hint)
        return
    if actual != expected:
        _fail(what, _short(expected), _short(actual), hint)


def check_close(actual, expected, what: str, atol: float = 1e-6, rtol: float = 1e-5,
                hint: str | None = None) -> None:
    """|actual - expected| <= atol + rtol * |expected| elementwise; shapes must agree; NaN fails."""
    a = torch.as_tensor(actual.detach() if isinstance(actual, torch.Tensor) else actual,
                        dtype=torch.float64)
    e = torch.as_tensor(expected.detach() if isinstance(expected, torch.Tensor) else expected,
                        dtype=torch.float64)
    if a.shape != e.shape:
        _fail(what, f"shape {tuple(e.shape)}", f"shape {tuple(a.shape)}", hint)
    if not torch.isfinite(a).all():
        _fail(what, "finite values", f"{int((~torch.isfinite(a)).sum())} NaN or inf values", hint)
    bad = (a - e).abs() > atol + rtol * e.abs()
    if bad.any():
        worst = int((a - e).abs().flatten().argmax())
        _fail(what, _short(e if e.numel() > 1 else e.item()),
              f"{_short(a if a.numel() > 1 else a.item())} ({int(bad.sum())} of {e.numel()} values "
              f"off; largest error {float((a - e).abs().flatten()[worst]):.3g} at flat index {worst})",
              hint)


def check_shape(tensor, shape, what: str, hint: str | None = None) -> None:
    """``tensor`` is a torch.Tensor of exactly ``shape``."""
    check_type(tensor, torch.Tensor, what, hint)
    if tuple(tensor.shape) != tuple(shape):
        _fail(what, f"shape {tuple(shape)}", f"shape {tuple(tensor.shape)}", hint)


def check_raises(fn, exception, what: str, hint: str | None = None):
    """Calling ``fn()`` raises ``exception`` (a type or tuple of types); returns the exception."""
    try:
        fn()
    except exception as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - report the wrong kind of error to the learner
        _fail(what, f"{getattr(exception, '__name__', exception)}", f"{type(exc).__name__}: {exc}", hint)
    _fail(what, f"{getattr(exception, '__name__', exception)} to be raised", "no error", hint)


def _blocked(*args, **kwargs):
    raise RuntimeError("this mclib function is switched off while a graded exercise is checked: "
                       "the exercise asks for your own implementation")


@contextlib.contextmanager
def forbid_calls(*modules: types.ModuleType):
    """Within the block, every plain function defined in ``modules`` raises RuntimeError when
    called, including through names imported earlier (``from mclib.measure import ...``): the
    functions' code is swapped, not just the module attributes."""
    swapped = []
    try:
        for module in modules:
            for obj in vars(module).values():
                if (isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__
                        and not obj.__code__.co_freevars):
                    swapped.append((obj, obj.__code__, obj.__defaults__, obj.__kwdefaults__))
                    obj.__code__ = _blocked.__code__
                    obj.__defaults__ = obj.__kwdefaults__ = None
        yield
    finally:
        for obj, code, defaults, kwdefaults in swapped:
            obj.__code__, obj.__defaults__, obj.__kwdefaults__ = code, defaults, kwdefaults
