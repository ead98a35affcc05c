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
import numbers
import types

import numpy as np
import torch

# Comparisons go through the base classes' own functions, taken when this module is imported, on
# values of exactly the expected types: an answer cannot bring its own __eq__, __bool__ or
# __torch_function__ to the comparison (a tensor subclass or torch function mode is switched off
# while comparing, a NumPy subclass or any other object is rejected).
_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_NUMBER_TYPES = (int, float)
_torch_equal = torch.equal
_as_tensor = torch.as_tensor
_no_overrides = getattr(torch._C, "DisableTorchFunction", contextlib.nullcontext)


def _kind(dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    return "float" if dtype.is_floating_point else "int"


def _plain_number(value):
    """``value`` as a Python int or float when it is exactly a number type (Python's, or a NumPy
    scalar), else None. bool is not a number here."""
    t = type(value)
    if t in _NUMBER_TYPES:
        return value
    if isinstance(value, np.generic) and t.__module__ == "numpy" and isinstance(
            value, (np.integer, np.floating)):
        return np.generic.item(value)
    return None


def _as_exact_tensor(value, what: str, hint):
    """``value`` as a plain torch.Tensor when it is exactly a tensor, an ndarray, a number or a
    (nested) list of numbers; otherwise the check fails (nothing else is converted)."""
    t = type(value)
    with _no_overrides():
        if t in _TENSOR_TYPES:
            return value.detach() if value.requires_grad else value
        if t is np.ndarray:
            return _as_tensor(value)
        if _plain_number(value) is not None or t is bool:
            return _as_tensor(_plain_number(value) if t is not bool else value)
        if t in (list, tuple) and _all_numbers(value):
            return _as_tensor(value)
    _fail(what, "a tensor, array or number", f"{t.__name__} {_short(value)}", hint)


def _all_numbers(seq) -> bool:
    return all((type(x) in (list, tuple) and _all_numbers(x)) or _plain_number(x) is not None
               or type(x) is bool for x in seq)

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
    if type(value) not in (*_TENSOR_TYPES, np.ndarray) and isinstance(value, (torch.Tensor, np.ndarray)):
        return object.__repr__(value)  # a subclass: its own repr is not called
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
    if isinstance(value, (torch.Tensor, np.ndarray)) and type(value) not in (*_TENSOR_TYPES, np.ndarray):
        _fail(what, "a plain tensor or array", f"a subclass, {type(value).__name__}", hint)
    ok = isinstance(value, types_) and not (isinstance(value, bool) and bool not in
                                            (types_ if isinstance(types_, tuple) else (types_,)))
    if not ok:
        names = (types_.__name__ if isinstance(types_, type)
                 else " or ".join(t.__name__ for t in types_))
        _fail(what, f"a value of type {names}", f"{type(value).__name__} {_short(value)}", hint)


def check_equal(actual, expected, what: str, hint: str | None = None) -> None:
    """Exact equality. Tensors and arrays must match in shape, kind of dtype (bool, integer,
    floating, complex: no casting across kinds) and every element; numbers must be numbers
    (Python's or NumPy's scalars, not bool); anything else must be of exactly the expected type.
    Objects that define their own comparison never reach it."""
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        e = _as_exact_tensor(expected, what, hint)
        a = _as_exact_tensor(actual, what, hint)
        if type(actual) not in _TENSOR_TYPES and type(actual) is not np.ndarray:
            _fail(what, f"a {type(expected).__name__}", f"{type(actual).__name__} {_short(actual)}", hint)
        with _no_overrides():
            if tuple(a.shape) != tuple(e.shape):
                _fail(what, f"shape {tuple(e.shape)}", f"shape {tuple(a.shape)}", hint)
            if _kind(a.dtype) != _kind(e.dtype):
                _fail(what, f"dtype {e.dtype}", f"dtype {a.dtype}", hint)
            same = a.to(e.dtype) if a.dtype != e.dtype else a
            if not _torch_equal(same, e):
                diff = int((same != e).sum())
                _fail(what, _short(e), f"{_short(a)} ({diff} of {e.numel()} entries differ)", hint)
        return
    exp_num = _plain_number(expected)
    if exp_num is not None:
        got = _plain_number(actual)
        if got is None:
            _fail(what, _short(expected), f"{type(actual).__name__} {_short(actual)} (not a number)", hint)
        if not got == exp_num:  # both exactly int or float here
            _fail(what, _short(expected), _short(actual), hint)
        return
    if type(actual) is not type(expected):
        _fail(what, f"{_short(expected)} (a {type(expected).__name__})",
              f"{type(actual).__name__} {_short(actual)}", hint)
    if isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            _fail(what, _short(expected), _short(actual), hint)
        for i, (a, e) in enumerate(zip(actual, expected)):
            check_equal(a, e, f"{what} [{i}]", hint)
        return
    if isinstance(expected, dict):
        if sorted(map(repr, actual)) != sorted(map(repr, expected)):
            _fail(what, _short(expected), _short(actual), hint)
        for k in expected:
            check_equal(actual[k], expected[k], f"{what} [{k!r}]", hint)
        return
    # Exactly the expected type, which is not defined by the answer: its own == is trusted.
    if not (actual == expected):
        _fail(what, _short(expected), _short(actual), hint)


def check_close(actual, expected, what: str, atol: float = 1e-6, rtol: float = 1e-5,
                hint: str | None = None) -> None:
    """|actual - expected| <= atol + rtol * |expected| elementwise; shapes must agree; NaN fails.
    ``actual`` must be exactly a tensor, an ndarray, a number or a list of numbers."""
    a = _as_exact_tensor(actual, what, hint)
    e = _as_exact_tensor(expected, what, hint)
    with _no_overrides():
        if _kind(a.dtype) == "complex" or (_kind(a.dtype) == "bool") != (_kind(e.dtype) == "bool"):
            _fail(what, f"dtype {e.dtype}", f"dtype {a.dtype}", hint)
        a = a.to(torch.float64)
        e = e.to(torch.float64)
        if a.shape != e.shape:
            _fail(what, f"shape {tuple(e.shape)}", f"shape {tuple(a.shape)}", hint)
        if not bool(torch.isfinite(a).all()):
            _fail(what, "finite values", f"{int((~torch.isfinite(a)).sum())} NaN or inf values", hint)
        bad = (a - e).abs() > atol + rtol * e.abs()
        if bool(bad.any()):
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
