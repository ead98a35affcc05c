"""The grading kernel's guard against tampering, and the grader's reading of what it saw.

``install()`` runs from an IPython startup file that the Workspace writes into the grading kernel's
private IPython folder, so it runs before any cell of the submission. It builds one ``Guard``, which:

- seeds Python's, NumPy's and torch's random generators (grading is deterministic even when a lesson
  forgets to seed);
- snapshots what tests and the kernel's execution rely on: torch's and NumPy's comparison functions,
  every attribute of ``torch.Tensor``, every mclib function (identity and code), the builtins, the
  ``sys`` hooks (displayhook, excepthook, trace and profile functions, the import system), and
  IPython's execution machinery (input and AST transformers, ``run_cell*``, ``showtraceback``,
  custom exception handlers, event callbacks, the kernel's ``do_execute`` and its handlers);
- before and after every cell compares all of that with the snapshot, puts back whatever changed and
  logs why (the submission is then flagged); before a test cell it also checks that the code about
  to run is exactly the code the grader sent, that no torch function mode is active and that no
  thread started by a cell is still running;
- after every cell writes a record ``(execution count, hash of the code that ran, success)``
  authenticated with a per-run key that only the guard and the grader know (the key file is deleted
  once read, and the environment variables naming the guard's files are removed): the grader gives
  a test cell its points only when such a record says that test's own code ran to completion;
- caps what a cell may print (bytes) in the kernel, so a careless loop cannot flood the grader
  (the grader's executor caps again, authoritatively, see verdicts.py);
- adds an audit hook (which Python cannot remove) that refuses, and logs, reading files or listing
  folders in the places given by ``MCLIB_GUARD_FORBID`` (the course, the grader's workspace, other
  submissions) apart from the kernel's own folder and ``MCLIB_GUARD_ALLOW``.

This runs inside the student's process: a student who reaches the guard's objects (through frames,
``gc`` or IPython's callbacks, all flagged by the static policy, policy.py) can still defeat it.
docs/grading-security.md lists what that leaves open.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
import types
from pathlib import Path

__all__ = ["LOG_ENV", "FORBID_ENV", "ALLOW_ENV", "PROTECTED_ENV", "KEY_ENV", "OUTPUT_ENV", "Guard",
           "install", "findings", "completed_cells", "source_hash", "startup_file_text",
           "record_mac"]

LOG_ENV = "MCLIB_GUARD_LOG"
FORBID_ENV = "MCLIB_GUARD_FORBID"
ALLOW_ENV = "MCLIB_GUARD_ALLOW"
PROTECTED_ENV = "MCLIB_GUARD_PROTECTED"  # a JSON file: list of source hashes of protected cells
KEY_ENV = "MCLIB_GUARD_KEY_FILE"         # a file holding the run's key; deleted once read
OUTPUT_ENV = "MCLIB_GUARD_OUTPUT_BYTES"  # bytes a cell may print before the rest is dropped

# Builtins that IPython/ipykernel legitimately swap while running a cell, or that are mere
# conveniences; everything else that is a builtin function or type is guarded.
_BUILTIN_SKIP = {"input", "raw_input", "exit", "quit", "help", "copyright", "credits", "license",
                 "display", "get_ipython", "_", "__", "___", "__IPYTHON__", "breakpoint", "print"}
_TORCH_NAMES = ["allclose", "equal", "isclose", "eq", "ne", "lt", "le", "gt", "ge", "all", "any",
                "abs", "sum", "max", "min", "isfinite", "isnan", "as_tensor", "tensor", "where",
                "count_nonzero"]  # not manual_seed: importing torch._dynamo wraps it
_NUMPY_NAMES = ["allclose", "array_equal", "array_equiv", "isclose", "all", "any", "abs", "asarray",
                "array", "isfinite", "isnan", "sum", "max", "min"]
_NUMPY_TESTING = ["assert_allclose", "assert_array_equal", "assert_equal", "assert_almost_equal",
                  "assert_array_almost_equal"]
_TENSOR_DUNDERS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__abs__",
                   "__sub__", "__float__", "__int__", "__len__", "__getitem__", "__torch_function__",
                   "__torch_dispatch__", "__format__", "__repr__", "__hash__", "__index__")
_SYS_HOOKS = ("displayhook", "excepthook", "breakpointhook", "unraisablehook", "stdout", "stderr",
              "__stdout__", "__stderr__")
# Methods of the shell and the kernel that decide how a cell is compiled, run and reported.
_SHELL_METHODS = ("run_cell", "run_cell_async", "_run_cell", "run_ast_nodes", "run_code",
                  "showtraceback", "_showtraceback", "showsyntaxerror", "transform_cell",
                  "transform_ast", "should_run_async", "ex", "ev", "run_line_magic",
                  "run_cell_magic", "safe_execfile", "set_custom_exc", "CustomTB", "_get_exc_info")
_SHELL_OBJECTS = ("displayhook", "display_pub", "events", "compile", "input_transformer_manager",
                  "user_ns", "user_global_ns", "custom_exceptions", "ast_transformers",
                  "input_transformers_post", "input_transformers_cleanup", "loop_runner",
                  "InteractiveTB", "SyntaxTB", "history_manager", "data_pub", "payload_manager",
                  "autoawait")
_KERNEL_METHODS = ("do_execute", "execute_request", "dispatch_shell", "send_response",
                   "_publish_status", "finish_metadata", "init_metadata")
_WATCHED_EVENTS = {"open", "os.listdir", "os.scandir", "glob.glob", "subprocess.Popen", "os.system",
                   "os.exec", "os.posix_spawn", "os.spawn"}
_MISSING = object()
_CLASS_CACHES = {"__slotnames__"}
#: The start of the line the guard prints where it stopped a cell's printing.
OUTPUT_CUT_KERNEL = "[output cut: this cell printed more than"
# IPython's own names in the notebook's namespace (output cache, input history).
_IPYTHON_NAME = re.compile(r"^(_+\d*|_i+\d*|_[oid]h|In|Out|exit|quit|get_ipython)$")
# Code compiled from a notebook cell (IPython names the file after the cell).
_CELL_FILE = re.compile(r"^(<ipython-input-|/tmp/ipykernel_\d+/|.*/ipykernel_\d+/\d+\.py$)")


def source_hash(source: str) -> str:
    """The hash by which the guard recognises a protected cell: sha256 of the stripped source."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def record_mac(key: bytes, record: dict) -> str:
    """The authentication code of one log record (every field but ``mac``)."""
    body = json.dumps({k: v for k, v in record.items() if k != "mac"}, sort_keys=True)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def startup_file_text() -> str:
    """The IPython startup file that installs the guard (the Workspace writes it)."""
    return ("# Written by the course autograder: guards the grading kernel against tampering.\n"
            "import sys as _sys\n"
            "from autograder.guard import install as _install\n"
            "_install()\n"
            "del _install\n"
            "_sys.modules.pop('autograder.guard', None)\n"
            "del _sys\n")


def _paths(value: str) -> list[str]:
    return [os.path.realpath(p) for p in value.split(os.pathsep) if p]


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _code_state(value):
    if callable(value) and hasattr(value, "__code__"):
        return (value.__code__, value.__defaults__, getattr(value, "__kwdefaults__", None))
    return None


def _same(current, value) -> bool:
    """Identity, except that a bound method is made afresh at every attribute access."""
    if current is value:
        return True
    return (isinstance(value, types.MethodType) and isinstance(current, types.MethodType)
            and current.__func__ is value.__func__ and current.__self__ is value.__self__)


def _written_in_cell(obj) -> bool:
    """Whether an import hook (a class, a function or an instance) comes from a notebook cell."""
    if isinstance(obj, type) or hasattr(getattr(obj, "__func__", obj), "__code__"):
        return _from_cell(obj)
    return _from_cell(type(obj))


def _from_cell(fn) -> bool:
    """Whether ``fn`` (a function, method, partial or class) was written in a notebook cell, or is
    something the guard cannot place (a builtin bound to arbitrary arguments)."""
    if isinstance(fn, type):
        return any(_from_cell(v) for v in vars(fn).values() if isinstance(v, types.FunctionType))
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return not isinstance(fn, (types.BuiltinFunctionType, types.MethodWrapperType))
    return bool(_CELL_FILE.match(code.co_filename))


_C_LEVEL = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
            types.MethodWrapperType, types.ClassMethodDescriptorType, types.GetSetDescriptorType,
            types.MemberDescriptorType)


def _library_object(value) -> bool:
    """Whether ``value`` comes from a library (C code, or Python code outside the notebook's cells):
    such an attribute appearing on a guarded class is a library's own cache, not tampering (the
    static policy flags any cell that assigns to a library's attributes anyway)."""
    if isinstance(value, _C_LEVEL):
        return True
    fn = getattr(value, "__func__", value)
    code = getattr(fn, "__code__", None)
    return code is not None and not _CELL_FILE.match(code.co_filename)


class Guard:
    """The state and checks of one grading kernel's guard (see the module docstring)."""

    def __init__(self, ip, log_path: str, key: bytes, protected: set[str], forbid: list[str],
                 allow: list[str], output_bytes: int | None):
        self.ip = ip
        self.log_path = log_path
        self.key = key
        self.protected = protected
        self.forbid = forbid
        self.allow = allow
        self.output_bytes = output_bytes
        self.attrs: dict[tuple[int, str], tuple] = {}   # (label, container, attr, value, code)
        self.lists: list[tuple[str, object, str, list]] = []
        self.dicts: list[tuple[str, dict, dict]] = []
        self.class_dicts: list[tuple[type, dict]] = []
        self.modules: dict[str, types.ModuleType] = {}
        self.guarded_mclib: set[str] = set()
        self.helper_ids: set[int] = set()
        self.bound: dict[str, object] = {}
        self.reported: set[str] = set()
        self.seen_reads: set[str] = set()
        self.test_cell = False
        self.before: dict | None = None
        self.printed = 0
        self.cut = False
        self.threads0: set[int] = set()
        self.wrappers: dict[str, tuple] = {}

    # -- the log ------------------------------------------------------------------------------
    def log(self, kind: str, **fields) -> None:
        record = {"kind": kind, **fields}
        if self.key:
            record["mac"] = record_mac(self.key, record)
        # Append and close every time: the grader reads the file after the kernel is gone.
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def report(self, reason: str) -> None:
        if reason not in self.reported:
            self.reported.add(reason)
            self.log("tamper", reason=reason)

    # -- the snapshot -------------------------------------------------------------------------
    def guard_attr(self, label: str, container, attr: str) -> None:
        try:
            value = vars(container)[attr] if isinstance(container, type) else getattr(container, attr)
        except (KeyError, AttributeError, TypeError):
            return
        self.attrs[(id(container), attr)] = (label, container, attr, value, _code_state(value))

    def guard_list(self, label: str, container, attr: str) -> None:
        value = getattr(container, attr, None)
        if isinstance(value, list):
            self.lists.append((label, container, attr, list(value)))
            self.guard_attr(label, container, attr)

    def guard_module_functions(self, module) -> None:
        for name, obj in list(vars(module).items()):
            if callable(obj) and getattr(obj, "__module__", None) == module.__name__:
                self.guard_attr(f"{module.__name__}.{name}", module, name)

    def guard_new_mclib_modules(self) -> None:
        # mclib modules a lesson imports later (measure, models, ...) are guarded from their first
        # appearance; their functions' code is swapped by forbid_calls only inside a test cell.
        for name, module in list(sys.modules.items()):
            if (name == "mclib" or name.startswith("mclib.")) and name not in self.guarded_mclib \
                    and module is not None:
                self.guarded_mclib.add(name)
                self.modules[name] = module
                self.guard_module_functions(module)

    def snapshot(self) -> None:
        import builtins
        import math

        import numpy as np
        import torch

        import mclib.check

        for name in _TORCH_NAMES:
            self.guard_attr(f"torch.{name}", torch, name)
        self.guard_attr("torch.testing.assert_close", torch.testing, "assert_close")
        for name in list(vars(torch.Tensor)):
            if not name.startswith("__") or name in _TENSOR_DUNDERS:
                self.guard_attr(f"torch.Tensor.{name}", torch.Tensor, name)
        for name in _NUMPY_NAMES:
            self.guard_attr(f"numpy.{name}", np, name)
        for name in _NUMPY_TESTING:
            self.guard_attr(f"numpy.testing.{name}", np.testing, name)
        for name in ("__eq__", "__ne__", "__bool__", "__array_ufunc__", "__array_function__"):
            self.guard_attr(f"numpy.ndarray.{name}", np.ndarray, name)
        self.guard_attr("math.isclose", math, "isclose")
        for name, obj in list(vars(builtins).items()):
            if name not in _BUILTIN_SKIP and (isinstance(obj, type) or type(obj).__name__ ==
                                              "builtin_function_or_method"):
                self.guard_attr(f"builtins.{name}", builtins, name)
        for name in _SYS_HOOKS:
            self.guard_attr(f"sys.{name}", sys, name)
        for name in ("meta_path", "path_hooks"):
            self.guard_list(f"sys.{name}", sys, name)
        self.modules.update({"torch": torch, "numpy": np, "math": math, "builtins": builtins,
                             "sys": sys, "mclib.check": mclib.check})
        self.guard_new_mclib_modules()
        # A class attribute added on top of a C base method (torch.Tensor.any = ...) shadows it
        # without replacing anything: these classes' whole dictionaries are guarded.
        classes = [torch.Tensor, torch.nn.Module, np.ndarray]
        ip = self.ip
        if ip is not None:
            for name in _SHELL_METHODS + _SHELL_OBJECTS:
                self.guard_attr(f"the shell's {name}", ip, name)
            for name in ("ast_transformers", "input_transformers_post", "input_transformers_cleanup"):
                self.guard_list(f"IPython's {name}", ip, name)
            tm = getattr(ip, "input_transformer_manager", None)
            for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
                self.guard_list(f"IPython's input_transformer_manager.{name}", tm, name)
            self.dicts.append(("IPython's event callbacks", ip.events.callbacks,
                               {k: list(v) for k, v in ip.events.callbacks.items()}))
            self.guard_attr("IPython's events.trigger", ip.events, "trigger")
            self.guard_attr("the shell's custom exceptions", ip, "custom_exceptions")
            kernel = getattr(ip, "kernel", None)
            if kernel is not None:
                for name in _KERNEL_METHODS:
                    self.guard_attr(f"the kernel's {name}", kernel, name)
                handlers = getattr(kernel, "shell_handlers", None)
                if isinstance(handlers, dict):
                    self.dicts.append(("the kernel's shell_handlers", handlers, dict(handlers)))
            for cls in type(ip).__mro__ + (type(kernel).__mro__ if kernel is not None else ()) \
                    + type(ip.events).__mro__ + type(ip.compile).__mro__:
                if cls is not object and cls not in classes:
                    classes.append(cls)
        self.class_dicts = [(cls, dict(vars(cls))) for cls in classes]
        self.helper_ids = {id(v[3]) for v in self.attrs.values() if v[0].startswith("mclib.check.")}
        self.helper_ids |= {id(m) for m in (torch, np, math, mclib.check)}
        self.helper_ids |= {id(getattr(torch, n)) for n in ("allclose", "equal", "isclose")}
        self.helper_ids |= {id(getattr(np, n)) for n in ("allclose", "array_equal", "isclose")}
        import threading
        self.threads0 = {t.ident for t in threading.enumerate()}

    # -- checking -----------------------------------------------------------------------------
    def verify(self) -> None:
        import builtins

        for label, container, attr, value, code in list(self.attrs.values()):
            try:
                current = (vars(container).get(attr, _MISSING) if isinstance(container, type)
                           else getattr(container, attr, _MISSING))
            except Exception:  # noqa: BLE001 - a hostile __getattr__ must not break the guard
                current = _MISSING
            if not _same(current, value):
                self.report(f"{label} was replaced")
                try:
                    if isinstance(container, type) and current is not _MISSING and value is _MISSING:
                        delattr(container, attr)
                    else:
                        setattr(container, attr, value)
                except Exception:  # noqa: BLE001
                    self.report(f"{label} could not be restored")
            elif code is not None and _code_state(value) != code:
                self.report(f"the code of {label} was changed")
                value.__code__, value.__defaults__ = code[0], code[1]
                if code[2] is not None or getattr(value, "__kwdefaults__", None) is not None:
                    value.__kwdefaults__ = code[2]
        for label, container, attr, items in self.lists:
            current = getattr(container, attr, None)
            if not isinstance(current, list):
                continue  # the attribute itself is checked (and put back) above
            if label.startswith("sys."):
                # Libraries add import hooks as they are imported (honest); entries written in a
                # cell, or removing the ones there were, are not.
                kept = [x for x in current if any(x is y for y in items) or not _written_in_cell(x)]
                if any(not any(x is y for y in current) for x in items) or len(kept) != len(current):
                    self.report(f"{label} was changed")
                    current[:] = items + [x for x in kept if not any(x is y for y in items)]
            elif len(current) != len(items) or any(a is not b for a, b in zip(current, items)):
                self.report(f"{label} was changed")
                current[:] = items
        for label, live, saved in self.dicts:
            for k in set(live) | set(saved):
                now, then = live.get(k, _MISSING), saved.get(k, _MISSING)
                same = (now is then if not isinstance(then, list) else isinstance(now, list) and
                        len(now) >= len(then) and all(a is b for a, b in zip(now, then)))
                extra = [] if not isinstance(now, list) or not isinstance(then, list) else now[len(then):]
                # Honest libraries (matplotlib's inline backend) add their callbacks later.
                foreign = [cb for cb in extra if _from_cell(cb)]
                if not same or foreign:
                    self.report(f"{label} [{k!r}] was changed")
                    if isinstance(then, list):
                        live[k] = list(then) + [cb for cb in extra if not _from_cell(cb)]
                    elif then is _MISSING:
                        live.pop(k, None)
                    else:
                        live[k] = then
        for cls, saved in self.class_dicts:
            live = vars(cls)
            # copyreg caches __slotnames__ on a class the first time one of its objects is copied.
            for k in set(live) - set(saved) - _CLASS_CACHES:
                if _library_object(live[k]):
                    continue  # torch caches some methods on Tensor the first time they are used
                self.report(f"{cls.__module__}.{cls.__qualname__}.{k} was added")
                try:
                    delattr(cls, k)
                except Exception:  # noqa: BLE001
                    self.report(f"{cls.__qualname__}.{k} could not be removed")
            for k, v in saved.items():
                if live.get(k, _MISSING) is not v:
                    self.report(f"{cls.__module__}.{cls.__qualname__}.{k} was replaced")
                    try:
                        setattr(cls, k, v)
                    except Exception:  # noqa: BLE001
                        self.report(f"{cls.__qualname__}.{k} could not be restored")
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                self.report(f"sys.modules[{name!r}] was replaced")
                sys.modules[name] = module
        if sys.gettrace() is not None:
            self.report("a trace function (sys.settrace) was set")
            sys.settrace(None)
        if sys.getprofile() is not None:
            self.report("a profile function (sys.setprofile) was set")
            sys.setprofile(None)
        import threading
        if getattr(threading, "_trace_hook", None) or getattr(threading, "_profile_hook", None):
            self.report("a trace function for new threads (threading.settrace) was set")
            threading.settrace(None) if hasattr(threading, "settrace") else None
            threading._profile_hook = None
        try:
            import torch
            if torch._C._len_torch_function_stack() or torch._C._len_torch_dispatch_stack():
                self.report("a torch function or dispatch mode was left active")
                while torch._C._len_torch_function_stack():
                    torch._C._pop_torch_function_stack()
                while torch._C._len_torch_dispatch_stack():
                    torch._C._pop_torch_dispatch_stack()
        except Exception:  # noqa: BLE001 - private torch API: best effort
            pass
        ns = self.user_ns()
        if ns.get("__builtins__", builtins) is not builtins:
            self.report("the notebook's __builtins__ was replaced")
            ns["__builtins__"] = builtins
        for name, value in self.bound.items():
            if ns.get(name, _MISSING) is not value:
                self.report(f"test helper {name!r} was redefined")
                ns[name] = value

    def user_ns(self) -> dict:
        return self.ip.user_ns if self.ip is not None else {}

    def remember_bindings(self) -> None:
        for name, value in list(self.user_ns().items()):
            if name not in self.bound and not name.startswith("_") and id(value) in self.helper_ids:
                self.bound[name] = value

    def check_threads(self) -> None:
        """A thread a cell started could change things while a test runs, between the checks."""
        import threading
        for t in threading.enumerate():
            if t.ident in self.threads0 or not t.is_alive():
                continue
            target = getattr(t, "_target", None) or getattr(type(t), "run", None)
            if target is not None and _from_cell(target):
                self.report("a thread started by the submission was running when a test cell started")

    def requested_code(self):
        """The code of the execute request being handled (what the grader sent), or None."""
        kernel = getattr(self.ip, "kernel", None)
        try:
            parent = kernel.get_parent("shell") if kernel is not None else None
        except Exception:  # noqa: BLE001
            return None
        if isinstance(parent, dict) and parent.get("msg_type", parent.get("header", {}).get(
                "msg_type")) == "execute_request":
            return parent.get("content", {}).get("code")
        return None

    # -- IPython hooks ------------------------------------------------------------------------
    def pre_run_cell(self, info=None) -> None:
        try:
            self.guard_new_mclib_modules()
            self.verify()
            self.remember_bindings()
            self.printed, self.cut = 0, False
            self.recap_streams()
            raw = getattr(info, "raw_cell", "") or ""
            requested = self.requested_code()
            self.test_cell = source_hash(raw) in self.protected or (
                requested is not None and source_hash(requested) in self.protected)
            if self.test_cell:
                if requested is not None and raw.strip() != requested.strip():
                    self.report("the code of a test cell was rewritten before it ran")
                transformed = getattr(info, "transformed_cell", None)
                if transformed is not None:
                    expected = self.ip.input_transformer_manager.transform_cell(raw)
                    if transformed != expected:
                        self.report("the code of a test cell was transformed by the submission")
                self.check_threads()
                self.before = {k: id(v) for k, v in self.user_ns().items()}
        except Exception as exc:  # noqa: BLE001 - the guard must never break grading
            self.log("error", where="pre_run_cell", error=repr(exc))

    def post_run_cell(self, result=None) -> None:
        try:
            if self.test_cell and self.before is not None:
                # Functions and classes a test or locked cell defines are test helpers too.
                for name, value in list(self.user_ns().items()):
                    if self.before.get(name) != id(value) and isinstance(
                            value, (types.FunctionType, type)) and not _IPYTHON_NAME.match(name):
                        self.bound[name] = value
                self.before = None
            self.guard_new_mclib_modules()
            self.verify()
            self.remember_bindings()
            info = getattr(result, "info", None)
            raw = getattr(info, "raw_cell", "") or ""
            ok = bool(getattr(result, "success", False))
            self.log("cell", n=getattr(result, "execution_count", None), h=source_hash(raw), ok=ok)
        except Exception as exc:  # noqa: BLE001
            self.log("error", where="post_run_cell", error=repr(exc))

    # -- printing bounded in bytes --------------------------------------------------------------
    def cap_streams(self) -> None:
        if not self.output_bytes:
            return
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            original = stream.write
            guard = self

            def write(text, _original=original):
                if not isinstance(text, str):
                    return _original(text)
                room = guard.output_bytes - guard.printed
                if room <= 0:
                    if not guard.cut:
                        guard.cut = True
                        _original(f"\n{OUTPUT_CUT_KERNEL} {guard.output_bytes} bytes]\n")
                    return len(text)
                data = text.encode("utf-8", "replace")
                guard.printed += len(data)
                if len(data) > room:
                    text = data[:room].decode("utf-8", "ignore")
                return _original(text)

            try:
                stream.write = write
            except (AttributeError, TypeError):
                continue
            self.wrappers[name] = (stream, write)

    def recap_streams(self) -> None:
        """Put the printing cap back where ipykernel (or a cell) replaced it: printing decides
        no grade, so this is not a finding; the grader's executor caps output anyway."""
        for name, (stream, write) in self.wrappers.items():
            if getattr(sys, name) is stream and stream.__dict__.get("write") is not write:
                stream.write = write

    # -- reading outside the submission's folder ------------------------------------------------
    def audit(self, event: str, args) -> None:
        if event not in _WATCHED_EVENTS or not self.forbid:
            return
        if event in ("open", "os.listdir", "os.scandir", "glob.glob"):
            target = args[0] if args else None
            if isinstance(target, bytes):
                target = os.fsdecode(target)
            if not isinstance(target, str):
                return  # a file descriptor: it was opened (and checked) before
            path = os.path.realpath(target)
            if _under(path, self.forbid) and not _under(path, self.allow):
                if path not in self.seen_reads and len(self.seen_reads) < 5:
                    self.seen_reads.add(path)
                    self.log("tamper", reason=f"tried to read {path}")
                raise PermissionError(f"reading {target} is not allowed while grading")
        else:  # running a program: refuse when its arguments name a forbidden place
            text = " ".join(os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args)
            for f in self.forbid:
                if f in text:
                    self.log("tamper", reason=f"ran a program on {f}: {text[:120]}")
                    raise PermissionError("running programs on the course's files is not allowed")


def install(log_path: str | None = None) -> Guard | None:
    """Install the guard in the running IPython kernel (see the module docstring). Without a log
    path (argument or ``MCLIB_GUARD_LOG``) it does nothing: the kernel is not a grading kernel."""
    log_path = log_path or os.environ.get(LOG_ENV)
    if not log_path:
        return None
    import random

    import numpy as np
    import torch

    try:
        from IPython import get_ipython
        ip = get_ipython()
    except ImportError:
        ip = None
    key = b""
    key_file = os.environ.get(KEY_ENV)
    if key_file:
        try:
            key = Path(key_file).read_bytes()
            os.unlink(key_file)
        except OSError:
            key = b""
    protected: set[str] = set()
    protected_error = False
    try:
        if os.environ.get(PROTECTED_ENV):
            protected = set(json.loads(Path(os.environ[PROTECTED_ENV]).read_text()))
    except (OSError, ValueError):
        protected_error = True
    output = os.environ.get(OUTPUT_ENV, "")
    guard = Guard(ip, log_path, key, protected, _paths(os.environ.get(FORBID_ENV, "")),
                  _paths(os.environ.get(ALLOW_ENV, "")) + [os.path.realpath(os.getcwd())],
                  int(output) if output.isdigit() else None)
    # Nothing a cell can read tells it where the guard's files are.
    for var in (LOG_ENV, FORBID_ENV, ALLOW_ENV, PROTECTED_ENV, KEY_ENV, OUTPUT_ENV):
        os.environ.pop(var, None)
    if protected_error:
        guard.log("error", where="install", error="the list of protected cells could not be read")
    # Deterministic grading: every random source seeded before any cell runs.
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    guard.cap_streams()
    guard.snapshot()
    if ip is not None:
        ip.events.register("pre_run_cell", guard.pre_run_cell)
        ip.events.register("post_run_cell", guard.post_run_cell)
        # The guard's own callbacks are part of what must stay.
        for i, (label, live, saved) in enumerate(guard.dicts):
            if live is ip.events.callbacks:
                guard.dicts[i] = (label, live, {k: list(v) for k, v in live.items()})
    sys.addaudithook(guard.audit)
    _on_cpu_limit(guard)
    guard.log("start", pid=os.getpid(), guarded=len(guard.attrs))
    return guard


def _on_cpu_limit(guard: Guard) -> None:
    """At the CPU-time limit (SIGXCPU) write why the kernel stops, so the status can name it."""
    import signal

    if not hasattr(signal, "SIGXCPU"):
        return

    def stop(signum, frame):
        try:
            guard.log("limit", what="cpu")
        finally:
            os._exit(152)

    signal.signal(signal.SIGXCPU, stop)


def _records(log_path: Path, key: bytes | None):
    """(records, altered): the log's records, and whether a line was not written by the guard."""
    records, altered = [], False
    for line in Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            altered = True
            continue
        if not isinstance(rec, dict):
            altered = True
            continue
        if key and not hmac.compare_digest(str(rec.get("mac", "")), record_mac(key, rec)):
            altered = True
            continue
        records.append(rec)
    return records, altered


def completed_cells(log_path: Path, key: bytes | None) -> set[tuple[int, str]]:
    """(execution count, code hash) of every cell the guard saw run to completion without raising."""
    if not Path(log_path).is_file():
        return set()
    records, _ = _records(log_path, key)
    return {(r.get("n"), r.get("h")) for r in records if r.get("kind") == "cell" and r.get("ok") is True}


def findings(log_path: Path, executed_counts: list[int], key: bytes | None = None) -> list[str]:
    """What the guard saw while one notebook ran, as reasons for flagging it (empty: nothing).

    ``executed_counts`` are the execution counts of the cells the grader ran, in order. Every one
    of them must have a heartbeat, except the last (a kernel that dies or is stopped in its last
    cell writes none); a gap means the guard's hooks were removed. With ``key``, records not
    authenticated by it are ignored and reported as an altered log.
    """
    log_path = Path(log_path)
    if not all(isinstance(n, int) for n in executed_counts):
        raise TypeError("executed_counts must be a list of ints")
    if not log_path.is_file():
        return ["the grading guard did not start (no log)"] if executed_counts else []
    records, altered = _records(log_path, key)
    reasons = list(dict.fromkeys(r.get("reason", "?") for r in records if r.get("kind") == "tamper"))
    if altered:
        reasons.append("the grading guard's log was altered")
    starts = [r for r in records if r.get("kind") == "start"]
    if not starts and executed_counts:
        reasons.append("the grading guard did not start")
    beats = {r.get("n") for r in records if r.get("kind") == "cell"}
    missing = [n for n in executed_counts[:-1] if n not in beats]
    if missing:
        reasons.append(f"the grading guard was switched off (no check after cell {missing[0]})")
    return reasons
