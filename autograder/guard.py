"""The grading kernel's guard against tampering, and the grader's reading of what it saw.

``install()`` runs from an IPython startup file that the Workspace writes into the grading kernels'
IPYTHONDIR, so it runs before any cell of the submission. It:

- seeds Python's, NumPy's and torch's random generators (grading is deterministic even when a lesson
  forgets to seed);
- snapshots the objects tests rely on: torch's and NumPy's comparison functions, every attribute of
  ``torch.Tensor``, every function of the mclib modules (identity *and* code, defaults), every
  builtin function and type, and ``sys.modules`` entries of those modules;
- remembers which names of the notebook's namespace are bound to test helpers (``check_equal``
  imported from mclib.check, ``torch``, ``np``) or defined by a protected cell (a test or locked
  cell, known by the hash of its source);
- after every cell (IPython's post_run_cell) and before every cell (pre_run_cell) compares all of
  that with the snapshot; anything changed is put back and written to the tamper log;
- writes a heartbeat per cell, so a submission that unregisters the hooks shows as missing
  heartbeats (``findings`` reports it);
- adds an audit hook (which Python cannot remove) that refuses, and logs, reading files or listing
  folders in the places given by ``MCLIB_GUARD_FORBID`` (the course, the grader's workspace, other
  submissions) apart from the kernel's own folder and ``MCLIB_GUARD_ALLOW``.

This runs inside the student's process, so a determined student who reads this file can still
defeat the detection (e.g. by forging the log); restoring grade cells, the snapshot restore and the
sandbox (sandbox.py) do not depend on the log. README says so.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import types
from pathlib import Path

__all__ = ["LOG_ENV", "FORBID_ENV", "ALLOW_ENV", "PROTECTED_ENV", "install", "findings",
           "source_hash", "startup_file_text"]

LOG_ENV = "MCLIB_GUARD_LOG"
FORBID_ENV = "MCLIB_GUARD_FORBID"
ALLOW_ENV = "MCLIB_GUARD_ALLOW"
PROTECTED_ENV = "MCLIB_GUARD_PROTECTED"  # a JSON file: list of source hashes of protected cells

# Builtins that IPython/ipykernel legitimately swap while running a cell, or that are mere
# conveniences; everything else that is a builtin function or type is guarded.
_BUILTIN_SKIP = {"input", "raw_input", "exit", "quit", "help", "copyright", "credits", "license",
                 "display", "get_ipython", "_", "__", "___", "__IPYTHON__", "__import__",
                 "breakpoint", "print"}
_TORCH_NAMES = ["allclose", "equal", "isclose", "eq", "ne", "lt", "le", "gt", "ge", "all", "any",
                "abs", "sum", "max", "min", "isfinite", "isnan", "as_tensor", "tensor", "where",
                "count_nonzero"]  # not manual_seed: importing torch._dynamo wraps it
_NUMPY_NAMES = ["allclose", "array_equal", "array_equiv", "isclose", "all", "any", "abs", "asarray",
                "array", "isfinite", "isnan", "sum", "max", "min"]
_NUMPY_TESTING = ["assert_allclose", "assert_array_equal", "assert_equal", "assert_almost_equal",
                  "assert_array_almost_equal"]
_WATCHED_EVENTS = {"open", "os.listdir", "os.scandir", "glob.glob", "subprocess.Popen", "os.system",
                   "os.exec", "os.posix_spawn", "os.spawn"}


def source_hash(source: str) -> str:
    """The hash by which the guard recognises a protected cell: sha256 of the stripped source."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def startup_file_text() -> str:
    """The IPython startup file that installs the guard (the Workspace writes it)."""
    return ("# Written by the course autograder: guards the grading kernel against tampering.\n"
            "import sys as _sys\n"
            "from autograder.guard import install as _install\n"
            "_install()\n"
            "del _install\n"
            "_sys.modules.pop('autograder.guard', None)\n"
            "del _sys\n")


def _paths(var: str) -> list[str]:
    return [os.path.realpath(p) for p in os.environ.get(var, "").split(os.pathsep) if p]


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def install(log_path: str | None = None) -> None:
    """Install the guard in the running IPython kernel (see the module docstring). Without a log
    path (argument or ``MCLIB_GUARD_LOG``) it does nothing: the kernel is not a grading kernel."""
    log_path = log_path or os.environ.get(LOG_ENV)
    if not log_path:
        return
    import builtins
    import math
    import random

    import numpy as np
    import torch

    import mclib.check

    try:
        from IPython import get_ipython
        ip = get_ipython()
    except ImportError:
        ip = None

    def log(kind: str, **fields) -> None:
        # Append and close every time: the grader reads the file after the kernel is gone.
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, **fields}) + "\n")

    # Deterministic grading: every random source seeded before any cell runs.
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)

    # -- the snapshot: (label, container, attribute, original value, original code state) --------
    snapshot: dict[tuple[int, str], tuple] = {}

    def guard_attr(label: str, container, attr: str) -> None:
        try:
            value = vars(container)[attr] if isinstance(container, type) else getattr(container, attr)
        except (KeyError, AttributeError):
            return
        code = _code_state(value)
        snapshot[(id(container), attr)] = (label, container, attr, value, code)

    def _code_state(value):
        if callable(value) and hasattr(value, "__code__"):
            return (value.__code__, value.__defaults__, getattr(value, "__kwdefaults__", None))
        return None

    def guard_module_functions(module) -> None:
        for name, obj in list(vars(module).items()):
            if callable(obj) and getattr(obj, "__module__", None) == module.__name__:
                guard_attr(f"{module.__name__}.{name}", module, name)

    for name in _TORCH_NAMES:
        guard_attr(f"torch.{name}", torch, name)
    guard_attr("torch.testing.assert_close", torch.testing, "assert_close")
    for name in list(vars(torch.Tensor)):
        if not name.startswith("__") or name in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__",
                                                 "__ge__", "__bool__", "__abs__", "__sub__",
                                                 "__float__", "__int__", "__len__", "__getitem__"):
            guard_attr(f"torch.Tensor.{name}", torch.Tensor, name)
    for name in _NUMPY_NAMES:
        guard_attr(f"numpy.{name}", np, name)
    for name in _NUMPY_TESTING:
        guard_attr(f"numpy.testing.{name}", np.testing, name)
    guard_attr("math.isclose", math, "isclose")
    # A class attribute added on top of a C base method (torch.Tensor.any = ...) shadows it
    # without replacing anything: the classes' attribute names are guarded too.
    class_keys = {torch.Tensor: set(vars(torch.Tensor)), torch.nn.Module: set(vars(torch.nn.Module))}
    for name, obj in list(vars(builtins).items()):
        if name not in _BUILTIN_SKIP and (isinstance(obj, type) or type(obj).__name__ ==
                                          "builtin_function_or_method"):
            guard_attr(f"builtins.{name}", builtins, name)
    guarded_modules = {"torch": torch, "numpy": np, "math": math, "builtins": builtins,
                       "mclib.check": mclib.check}
    guarded_mclib: set[str] = set()

    def guard_new_mclib_modules() -> None:
        # mclib modules a lesson imports later (measure, models, ...) are guarded from their first
        # appearance; their functions' code is swapped by forbid_calls only inside a test cell.
        for name, module in list(sys.modules.items()):
            if (name == "mclib" or name.startswith("mclib.")) and name not in guarded_mclib \
                    and module is not None:
                guarded_mclib.add(name)
                guarded_modules[name] = module
                guard_module_functions(module)

    guard_new_mclib_modules()
    helper_ids = {id(v[3]) for v in snapshot.values() if v[0].startswith("mclib.check.")}
    helper_ids |= {id(m) for m in (torch, np, math, mclib.check)}
    helper_ids |= {id(getattr(torch, n)) for n in ("allclose", "equal", "isclose") if hasattr(torch, n)}
    helper_ids |= {id(getattr(np, n)) for n in ("allclose", "array_equal", "isclose")}

    # -- names of the notebook's namespace that tests rely on -------------------------------------
    protected_hashes: set[str] = set()
    try:
        if os.environ.get(PROTECTED_ENV):
            protected_hashes = set(json.loads(Path(os.environ[PROTECTED_ENV]).read_text()))
    except (OSError, ValueError):
        log("tamper", reason="the list of protected cells could not be read")
    bound: dict[str, object] = {}  # name -> object it must stay bound to
    state = {"before": None, "protected_cell": False, "reported": set()}

    def user_ns() -> dict:
        return ip.user_ns if ip is not None else {}

    def report(reason: str) -> None:
        if reason not in state["reported"]:
            state["reported"].add(reason)
            log("tamper", reason=reason)

    def verify(when: str) -> None:
        for key, (label, container, attr, value, code) in list(snapshot.items()):
            try:
                current = (vars(container).get(attr, _MISSING) if isinstance(container, type)
                           else getattr(container, attr, _MISSING))
            except Exception:  # noqa: BLE001 - a hostile __getattr__ must not break the guard
                current = _MISSING
            if current is not value:
                report(f"{label} was replaced")
                try:
                    setattr(container, attr, value)
                except Exception:  # noqa: BLE001
                    report(f"{label} could not be restored")
            elif code is not None and _code_state(value) != code:
                report(f"the code of {label} was changed")
                value.__code__, value.__defaults__ = code[0], code[1]
                if code[2] is not None or getattr(value, "__kwdefaults__", None) is not None:
                    value.__kwdefaults__ = code[2]
        for cls, keys in class_keys.items():
            for extra in set(vars(cls)) - keys:
                report(f"{cls.__module__}.{cls.__qualname__}.{extra} was added")
                try:
                    delattr(cls, extra)
                except Exception:  # noqa: BLE001
                    report(f"{cls.__qualname__}.{extra} could not be removed")
        for name, module in guarded_modules.items():
            if sys.modules.get(name) is not module:
                report(f"sys.modules[{name!r}] was replaced")
                sys.modules[name] = module
        ns = user_ns()
        for name, value in bound.items():
            if ns.get(name, _MISSING) is not value:
                report(f"test helper {name!r} was redefined")
                ns[name] = value

    def remember_bindings() -> None:
        for name, value in list(user_ns().items()):
            if name not in bound and not name.startswith("_") and id(value) in helper_ids:
                bound[name] = value

    def pre_run_cell(info=None) -> None:
        try:
            guard_new_mclib_modules()
            verify("before a cell")
            remember_bindings()
            raw = getattr(info, "raw_cell", "") or ""
            state["protected_cell"] = source_hash(raw) in protected_hashes
            if state["protected_cell"]:
                state["before"] = {k: id(v) for k, v in user_ns().items()}
        except Exception as exc:  # noqa: BLE001 - the guard must never break grading
            log("error", where="pre_run_cell", error=repr(exc))

    def post_run_cell(result=None) -> None:
        try:
            if state["protected_cell"] and state["before"] is not None:
                # Functions and classes a test or locked cell defines are test helpers too.
                for name, value in list(user_ns().items()):
                    if state["before"].get(name) != id(value) and isinstance(
                            value, (types.FunctionType, type)) and not _IPYTHON_NAME.match(name):
                        bound[name] = value
                state["before"] = None
            guard_new_mclib_modules()
            verify("after a cell")
            remember_bindings()
            log("cell", n=getattr(result, "execution_count", None))
        except Exception as exc:  # noqa: BLE001
            log("error", where="post_run_cell", error=repr(exc))

    # -- reading outside the submission's folder --------------------------------------------------
    forbid = _paths(FORBID_ENV)
    allow = _paths(ALLOW_ENV) + [os.path.realpath(os.getcwd())]
    seen_reads: set[str] = set()

    def audit(event: str, args) -> None:
        if event not in _WATCHED_EVENTS or not forbid:
            return
        if event in ("open", "os.listdir", "os.scandir", "glob.glob"):
            target = args[0] if args else None
            if isinstance(target, bytes):
                target = os.fsdecode(target)
            if not isinstance(target, str):
                return  # a file descriptor: it was opened (and checked) before
            path = os.path.realpath(target)
            if _under(path, forbid) and not _under(path, allow):
                if path not in seen_reads and len(seen_reads) < 5:
                    seen_reads.add(path)
                    log("tamper", reason=f"tried to read {path}")
                raise PermissionError(f"reading {target} is not allowed while grading")
        else:  # running a program: refuse when its arguments name a forbidden place
            text = " ".join(os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args)
            for f in forbid:
                if f in text:
                    log("tamper", reason=f"ran a program on {f}: {text[:120]}")
                    raise PermissionError("running programs on the course's files is not allowed")

    if ip is not None:
        ip.events.register("pre_run_cell", pre_run_cell)
        ip.events.register("post_run_cell", post_run_cell)
    sys.addaudithook(audit)
    log("start", pid=os.getpid(), guarded=len(snapshot))


_MISSING = object()
# IPython's own names in the notebook's namespace (output cache, input history).
_IPYTHON_NAME = re.compile(r"^(_+\d*|_i+\d*|_[oid]h|In|Out|exit|quit|get_ipython)$")


def findings(log_path: Path, executed_counts: list[int]) -> list[str]:
    """What the guard saw while one notebook ran, as reasons for flagging it (empty: nothing).

    ``executed_counts`` are the execution counts of the cells the grader ran, in order. Every one
    of them must have a heartbeat, except the last (a kernel that dies or is stopped in its last
    cell writes none); a gap means the guard's hooks were removed.
    """
    log_path = Path(log_path)
    if not all(isinstance(n, int) for n in executed_counts):
        raise TypeError("executed_counts must be a list of ints")
    if not log_path.is_file():
        return ["the grading guard did not start (no log)"] if executed_counts else []
    records = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            return ["the grading guard's log was altered"]
        if isinstance(rec, dict):
            records.append(rec)
    reasons = list(dict.fromkeys(r.get("reason", "?") for r in records if r.get("kind") == "tamper"))
    starts = [r for r in records if r.get("kind") == "start"]
    if not starts and executed_counts:
        reasons.append("the grading guard did not start")
    beats = {r.get("n") for r in records if r.get("kind") == "cell"}
    missing = [n for n in executed_counts[:-1] if n not in beats]
    if missing:
        reasons.append(f"the grading guard was switched off (no check after cell {missing[0]})")
    return reasons
