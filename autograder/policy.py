"""A static policy over the student's own cells: constructs no honest answer in this course needs.

A submission runs in the same process as the tests that grade it, so code that reaches the
kernel's machinery (IPython, frames, the import system, the garbage collector, C memory) can change
how the tests run. The runtime guard (guard.py) puts back what it knows about; this policy flags,
before anything runs, code that *tries*: such a submission scores 0 until an instructor has looked
at it (the reasons say what and where). It reads the cells the student wrote or changed (test and
locked cells are put back from the source notebook anyway), after IPython's own transformation, so
``!cmd`` and ``%magic`` count as what they are (a few harmless magics such as ``%time`` pass).

``check_notebook(submitted, source, lesson)`` returns the findings; ``ALLOW`` (per lesson) and the
source notebook's ``metadata.autograder.policy_allow`` (a list of rule names) switch rules off for
a lesson that needs one. ``validate`` and ``tests/test_red_team.py`` run the policy over every
solution cell of the six lessons.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Finding", "RULES", "ALLOW", "check_source", "check_notebook", "student_cells"]

#: rule -> what it guards against (shown to instructors and learners)
RULES = {
    "ipython": "reaches the notebook's machinery (get_ipython, IPython, shell commands, magics)",
    "frames": "reads interpreter frames or tracebacks' frames",
    "trace": "sets a trace, profile or monitoring function",
    "native": "loads C code or raw memory (ctypes, cffi, mmap)",
    "gc": "searches the garbage collector's objects",
    "builtins": "changes or reaches the builtins",
    "imports": "changes the import system or sys.modules",
    "dynamic-code": "runs code built at run time (exec, eval, compile, code objects, pickle)",
    "dunder": "reaches an object's internals through a special attribute",
    "namespace": "reads or writes a namespace dictionary (globals, locals, vars)",
    "environment": "reads or changes environment variables",
    "processes": "starts or signals processes",
    "signals": "installs signal, exit or finaliser handlers",
    "threads": "starts threads or event loops",
    "files": "opens a path outside the submission's folder",
    "network": "uses the network",
    "library-patch": "assigns to an attribute of a library module or class",
    "comparison-override": "defines how its objects compare, convert or dispatch (tests rely on it)",
    "tensor-subclass": "subclasses a tensor or array type",
    "metaclass": "uses a metaclass",
}
#: lesson -> rules switched off for it (none needs one yet); see also notebook metadata.
ALLOW: dict[str, set[str]] = {}
_SAFE_MAGICS = {"time", "timeit", "matplotlib", "precision", "pprint", "who", "whos"}
_MODULE_RULES = {
    "IPython.display": None, "IPython": "ipython", "ipykernel": "ipython", "traitlets": "ipython", "jupyter_client": "ipython",
    "zmq": "ipython", "comm": "ipython", "ipywidgets": None, "inspect": "frames", "traceback": None,
    "ctypes": "native", "_ctypes": "native", "cffi": "native", "mmap": "native", "gc": "gc",
    "builtins": "builtins", "__builtin__": "builtins", "importlib": "imports", "imp": "imports",
    "pkgutil": "imports", "zipimport": "imports", "runpy": "imports", "site": "imports",
    "code": "dynamic-code", "codeop": "dynamic-code", "marshal": "dynamic-code",
    "pickle": "dynamic-code", "dill": "dynamic-code", "copyreg": "dynamic-code", "types": None,
    "subprocess": "processes", "pty": "processes", "multiprocessing": "processes", "sh": "processes",
    "signal": "signals", "atexit": "signals", "faulthandler": "signals", "weakref": None,
    "threading": "threads", "_thread": "threads", "concurrent": "threads", "asyncio": "threads",
    "sched": "threads", "socket": "network", "urllib": "network", "http": "network",
    "requests": "network", "ssl": "network", "ftplib": "network", "smtplib": "network",
    "resource": "processes", "torch.overrides": "comparison-override",
    "torch.utils._python_dispatch": "comparison-override", "torch._C": "native", "sys.monitoring": "trace", "pdb": "trace", "bdb": "trace",
}
# (module, attribute) pairs, after resolving aliases; "*" matches any attribute of the module.
_ATTR_RULES = {
    ("sys", "_getframe"): "frames", ("sys", "_current_frames"): "frames", ("sys", "exc_info"): "frames",
    ("sys", "exception"): "frames", ("sys", "last_traceback"): "frames",
    ("sys", "settrace"): "trace", ("sys", "setprofile"): "trace", ("sys", "gettrace"): "trace",
    ("sys", "monitoring"): "trace", ("sys", "setswitchinterval"): "threads",
    ("sys", "modules"): "imports", ("sys", "meta_path"): "imports", ("sys", "path_hooks"): "imports",
    ("sys", "path_importer_cache"): "imports", ("sys", "addaudithook"): "trace",
    ("sys", "displayhook"): "ipython", ("sys", "excepthook"): "ipython",
    ("sys", "breakpointhook"): "ipython", ("sys", "unraisablehook"): "ipython",
    ("sys", "__stdout__"): "ipython", ("sys", "__stderr__"): "ipython",
    ("sys", "setrecursionlimit"): "trace", ("sys", "builtin_module_names"): None,
    ("os", "environ"): "environment", ("os", "environb"): "environment", ("os", "getenv"): "environment",
    ("os", "putenv"): "environment", ("os", "unsetenv"): "environment",
    ("os", "system"): "processes", ("os", "popen"): "processes", ("os", "fork"): "processes",
    ("os", "forkpty"): "processes", ("os", "kill"): "processes", ("os", "killpg"): "processes",
    ("os", "posix_spawn"): "processes", ("os", "posix_spawnp"): "processes",
    ("os", "setsid"): "processes", ("os", "setpgid"): "processes", ("os", "_exit"): "processes",
    ("os", "register_at_fork"): "processes", ("os", "chdir"): "files", ("os", "fchdir"): "files",
    ("os", "open"): "files", ("os", "write"): "files", ("os", "dup"): "files", ("os", "dup2"): "files",
    ("os", "fdopen"): "files", ("os", "pipe"): "processes", ("os", "chroot"): "files",
    ("torch", "_C"): "native", ("torch", "overrides"): "comparison-override",
    ("torch", "library"): "native", ("torch", "_dynamo"): "native", ("torch", "ops"): "native",
    ("weakref", "finalize"): "signals", ("types", "FunctionType"): "dynamic-code",
    ("types", "CodeType"): "dynamic-code", ("types", "LambdaType"): "dynamic-code",
    ("types", "ModuleType"): "imports", ("types", "FrameType"): "frames",
    ("types", "TracebackType"): "frames", ("gc", "collect"): None, ("threading", "*"): "threads",
    ("inspect", "currentframe"): "frames", ("inspect", "stack"): "frames", ("inspect", "trace"): "frames",
    ("inspect", "getouterframes"): "frames", ("inspect", "getinnerframes"): "frames",
    ("inspect", "getframeinfo"): "frames", ("traceback", "walk_stack"): "frames",
    ("traceback", "walk_tb"): "frames", ("traceback", "extract_stack"): "frames",
}
for _name in ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
              "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe"):
    _ATTR_RULES[("os", _name)] = "processes"
_NAME_RULES = {
    "get_ipython": "ipython", "__IPYTHON__": "ipython", "exec": "dynamic-code", "eval": "dynamic-code",
    "compile": "dynamic-code", "__import__": "builtins", "__builtins__": "builtins",
    "globals": "namespace", "locals": "namespace", "vars": "namespace", "breakpoint": "trace",
    "__loader__": "imports", "__spec__": "imports",
}
_DUNDER_ATTRS = {
    "__code__", "__globals__", "__closure__", "__subclasses__", "__bases__", "__base__", "__mro__",
    "__builtins__", "__dict__", "__defaults__", "__kwdefaults__", "__func__", "__self__",
    "__wrapped__", "__reduce__", "__reduce_ex__", "__getattribute__", "__setattr__", "__delattr__",
    "__import__", "__loader__", "__spec__", "__traceback__", "__torch_function__",
    "__torch_dispatch__", "__array_ufunc__", "__array_function__", "__init_subclass__",
    "__set_name__", "__class_getitem__", "__slots__", "__weakref__", "__module__", "__qualname__",
    "__annotations__", "__setstate__", "__getstate__", "__eq__", "__ne__", "__bool__", "__lt__",
    "__le__", "__gt__", "__ge__", "__hash__", "__instancecheck__", "__subclasscheck__",
    "__getattr__", "__call__", "__new__", "__del__", "__context__", "__cause__",
}
_FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "f_lineno",
                "tb_frame", "tb_next", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame",
                "ag_code", "co_code", "co_consts", "co_names", "func_globals"}
_OVERRIDES = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__",
              "__float__", "__int__", "__index__", "__abs__", "__hash__", "__torch_function__",
              "__torch_dispatch__", "__array_ufunc__", "__array_function__", "__array_wrap__",
              "__array_finalize__", "__array_priority__", "__array__", "__instancecheck__",
              "__subclasscheck__", "__getattr__", "__getattribute__", "__del__", "__class_getitem__",
              "__init_subclass__", "__set_name__", "__sub__", "__rsub__", "__round__", "__complex__",
              "__contains__", "__iter__", "__format__", "__str__", "__repr__", "__getitem__"}
_TENSOR_BASES = {"Tensor", "ndarray", "Parameter", "TorchFunctionMode", "TorchDispatchMode",
                 "float", "int", "bool", "str", "list", "tuple", "dict", "Number"}
_BENIGN_OVERRIDE_BASES = {"Module", "nn.Module", "Dataset", "Function", "autograd.Function",
                          "Exception", "ValueError", "TypeError", "NamedTuple"}
_OPENERS = {"open", "Path", "PurePath", "PosixPath", "load", "save", "read_text", "read_bytes",
            "write_text", "write_bytes", "listdir", "scandir", "glob", "iglob", "walk", "stat",
            "remove", "unlink", "rmtree", "rmdir", "rename", "replace", "copy", "copyfile", "move",
            "loadtxt", "fromfile", "memmap"}


@dataclass(frozen=True)
class Finding:
    """One construct the policy flags: where (cell id, line), which rule, what was seen."""

    cell: str
    line: int
    rule: str
    what: str

    def reason(self) -> str:
        return f"policy [{self.rule}]: cell {self.cell} line {self.line}: {self.what} ({RULES[self.rule]})"


def _ipython_source(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython is installed with nbgrader
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - untransformable text is parsed (and fails) as it is
        return source


def _dotted(node) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id] + parts[::-1]
    return None


def _literal_str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return node.value if isinstance(node.value, str) else node.value.decode("latin-1")
    return None


def _constant_parts(node) -> str:
    """The constant text inside an expression that builds a string (f-strings, + and join)."""
    return "".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str))


def _suspicious_path(text: str) -> bool:
    return bool(text) and (text.startswith(("/", "~", "\\")) or ".." in text.replace("\\", "/").split("/")
                           or re.match(r"^[A-Za-z]:", text) is not None)


class _Visitor(ast.NodeVisitor):
    def __init__(self, cell: str, modules: dict[str, str]):
        self.cell = cell
        self.modules = dict(modules)  # local name -> module path it is bound to
        self.found: list[Finding] = []

    def flag(self, node, rule: str, what: str) -> None:
        if rule:
            self.found.append(Finding(self.cell, getattr(node, "lineno", 0), rule, what))

    def _module_rule(self, name: str):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            rule = _MODULE_RULES.get(".".join(parts[:i]), "")
            if rule != "":
                return rule
        return None

    def visit_Import(self, node):
        for alias in node.names:
            self.modules[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0])
            rule = self._module_rule(alias.name)
            self.flag(node, rule, f"imports {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        rule = self._module_rule(mod)
        self.flag(node, rule, f"imports from {mod}")
        for alias in node.names:
            full = f"{mod}.{alias.name}"
            self.modules[alias.asname or alias.name] = full
            sub = self._attr_rule(mod, alias.name) or self._module_rule(full)
            if not rule:
                self.flag(node, sub, f"imports {full}")
            if alias.name in _NAME_RULES:
                self.flag(node, _NAME_RULES[alias.name], f"imports {alias.name}")
        self.generic_visit(node)

    def _attr_rule(self, module: str, attr: str):
        root = module.split(".")[0]
        for key in ((module, attr), (root, attr), (module, "*"), (root, "*")):
            if key in _ATTR_RULES:
                return _ATTR_RULES[key]
        return None

    def visit_Name(self, node):
        if node.id in _NAME_RULES and node.id not in self.modules:
            self.flag(node, _NAME_RULES[node.id], f"uses {node.id}")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        dotted = _dotted(node)
        if node.attr in _FRAME_ATTRS:
            self.flag(node, "frames", f"reads .{node.attr}")
        elif node.attr in _DUNDER_ATTRS:
            self.flag(node, "dunder", f"reads .{node.attr}")
        if dotted and dotted[0] in self.modules:
            module = self.modules[dotted[0]]
            path = (module + "." + ".".join(dotted[1:-1])).rstrip(".")
            rule = self._attr_rule(path, dotted[-1])
            self.flag(node, rule, f"uses {'.'.join(dotted)}")
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                self.flag(node, "library-patch", f"assigns to {'.'.join(dotted)}")
            if any(p.startswith("_") and not p.startswith("__") for p in dotted[1:]) and \
                    module.split(".")[0] in ("torch", "numpy", "mclib", "sys", "os", "IPython"):
                self.flag(node, "native", f"uses the private {'.'.join(dotted)}")
        self.generic_visit(node)

    def visit_Subscript(self, node):
        dotted = _dotted(node.value)
        if dotted and dotted[0] in self.modules and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.flag(node, "library-patch", f"assigns into {'.'.join(dotted)}[...]")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        dotted = _dotted(func) or []
        # get_ipython().run_line_magic('time', ...): a harmless magic is not the machinery.
        if (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython" and node.args
                and _literal_str(node.args[0]) in _SAFE_MAGICS):
            if func.attr == "run_cell_magic" and len(node.args) >= 3 and _literal_str(node.args[2]):
                self.found += check_source(_literal_str(node.args[2]), self.cell, self.modules)
            for arg in node.args[1:2]:
                if func.attr == "run_line_magic" and _literal_str(arg):
                    self.found += check_source(_literal_str(arg), self.cell, self.modules)
            return
        if name in ("getattr", "setattr", "delattr", "hasattr") and isinstance(func, ast.Name) \
                and len(node.args) >= 2:
            attr = node.args[1]
            text = _literal_str(attr)
            target = _dotted(node.args[0])
            if text is not None and (text in _DUNDER_ATTRS or text in _FRAME_ATTRS or
                                     (text.startswith("__") and text.endswith("__"))):
                self.flag(node, "dunder", f"{name}(..., {text!r})")
            elif text is None and "__" in _constant_parts(attr) or (
                    text is None and "_" in _constant_parts(attr) and "code" in _constant_parts(attr)):
                self.flag(node, "dunder", f"{name} with a built-up special name")
            if name in ("setattr", "delattr") and target and target[0] in self.modules:
                self.flag(node, "library-patch", f"{name} on {'.'.join(target)}")
        if name in _OPENERS and node.args:
            text = _literal_str(node.args[0])
            if text is not None and _suspicious_path(text):
                self.flag(node, "files", f"{'.'.join(dotted) or name}({text!r})")
            elif text is not None and text.startswith(("/proc", "/dev", "/sys")):
                self.flag(node, "files", f"{name}({text!r})")
        if name in ("__import__", "import_module"):
            self.flag(node, "imports", f"calls {name}")
        if name == "register" and dotted[:1] and dotted[0] in self.modules and \
                self.modules[dotted[0]].split(".")[0] in ("atexit", "codecs"):
            self.flag(node, "signals", f"calls {'.'.join(dotted)}")
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        bases = [".".join(_dotted(b) or ["?"]) for b in node.bases]
        for b in bases:
            if b.split(".")[-1] in _TENSOR_BASES:
                self.flag(node, "tensor-subclass", f"class {node.name}({b})")
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.flag(node, "metaclass", f"class {node.name}(metaclass=...)")
        benign = bases and all(b in _BENIGN_OVERRIDE_BASES or b.split(".")[-1] in
                               {x.split(".")[-1] for x in _BENIGN_OVERRIDE_BASES} for b in bases)
        for item in node.body:
            targets = []
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                targets = [item.name]
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                for t in (item.targets if isinstance(item, ast.Assign) else [item.target]):
                    if isinstance(t, ast.Name):
                        targets.append(t.id)
            for t in targets:
                # nn.Module subclasses define __getitem__/__len__/__repr__ honestly.
                if t in _OVERRIDES and not (benign and t in ("__getitem__", "__len__", "__iter__",
                                                             "__repr__", "__str__", "__contains__")):
                    self.flag(item, "comparison-override", f"class {node.name} defines {t}")
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        if node.name in ("__getattr__", "__del__", "__getattribute__"):
            self.flag(node, "comparison-override", f"defines {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Global(self, node):
        for name in node.names:
            if name.startswith("__"):
                self.flag(node, "builtins", f"global {name}")
        self.generic_visit(node)


def check_source(source: str, cell: str = "?", modules: dict[str, str] | None = None) -> list[Finding]:
    """The findings of one cell's source (``modules``: names already bound to modules)."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    try:
        tree = ast.parse(_ipython_source(source))
    except (SyntaxError, ValueError):
        return []  # code that does not compile cannot run either
    visitor = _Visitor(cell, modules or {})
    visitor.visit(tree)
    return visitor.found


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def student_cells(submitted, source) -> list:
    """The code cells of ``submitted`` the student wrote or changed: every code cell except test
    and locked cells (nbgrader puts those back) and cells identical to the source notebook's."""
    original = {c.get("id"): c.get("source", "").strip() for c in source.cells}
    originals = set(original.values())
    out = []
    for cell in submitted.cells:
        if cell.get("cell_type") != "code":
            continue
        meta = _meta(cell)
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            continue
        src = cell.get("source", "").strip()
        if src == original.get(cell.get("id")) or (not meta.get("solution") and src in originals):
            continue
        out.append(cell)
    return out


def _modules_of(nb) -> dict[str, str]:
    modules: dict[str, str] = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_ipython_source(cell.get("source", "")))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
    return modules


def check_notebook(submitted, source, lesson: str | None = None) -> list[Finding]:
    """The findings of every cell the student wrote or changed in ``submitted`` (a notebook),
    judged against ``source`` (the instructor's notebook), minus the rules the lesson allows."""
    allowed = set(ALLOW.get(lesson or "", set()))
    allowed |= set(source.get("metadata", {}).get("autograder", {}).get("policy_allow", []))
    modules = _modules_of(source)
    found = []
    for cell in student_cells(submitted, source):
        cid = _meta(cell).get("grade_id") or cell.get("id") or "?"
        found += [f for f in check_source(cell.get("source", ""), cid, modules) if f.rule not in allowed]
    return found
