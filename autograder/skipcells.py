"""Experiment cells that grading does not run: the ``skip-in-grading`` cell tag.

A lesson's experiments (train a model, sweep a setting, time something, draw a figure) can take most
of a submission's grading time, yet no test reads what they compute. Their owners tag them
``skip-in-grading`` (``metadata.tags`` of the cell in ``solutions/``); ``SkipExperimentCells``, an
nbgrader preprocessor run by ``autograde`` before the notebook executes, replaces each such cell by a
comment. Three rules keep that safe:

1. Only the instructor's tags count: the tags are read from the source notebook by cell id, so a
   student who tags a cell of their own skips nothing.
2. A tagged cell the student has edited runs as written (their later cells may rely on the edit).
3. A solution cell, a test cell, a written answer or a locked nbgrader cell is never skipped: such a
   tag stops grading with an error naming the cell (``tag_problems``), and the course's tests fail.

``dependency_problems`` proves statically (Python's ``ast``) that no cell kept by grading reads a
name that a skipped cell binds, nor an object it may change in place (attribute or item stores,
method calls, passing it to a function), unless a kept cell defined that name again in between.
"""
from __future__ import annotations

import ast
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

__all__ = ["SKIP_TAG", "SkipExperimentCells", "tag_problems", "dependency_problems",
           "skippable_cells", "cell_names", "SKIPPED_SOURCE"]

SKIP_TAG = "skip-in-grading"
SKIPPED_SOURCE = "# Not run while grading: an experiment no graded cell depends on (tag skip-in-grading)."
#: Calls that change state every later cell sees (random generators, the torch thread pool).
_GLOBAL_STATE_CALLS = {"manual_seed", "seed", "set_num_threads", "set_default_dtype",
                       "use_deterministic_algorithms", "set_printoptions", "setrecursionlimit"}

#: Functions known not to change their arguments (anything else called with a name may).
_PURE_BUILTINS = {"print", "display", "len", "repr", "str", "int", "float", "bool", "type",
                  "isinstance", "sorted", "sum", "min", "max", "abs", "round", "range", "enumerate",
                  "zip", "format", "list", "tuple", "dict", "set", "id", "hash", "any", "all"}


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _role(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    if meta.get("grade") and meta.get("solution"):
        return "written answer"
    if meta.get("grade"):
        return "test cell"
    if meta.get("solution"):
        return "solution cell"
    if meta.get("locked"):
        return "locked cell"
    return None


def tag_problems(nb) -> list[str]:
    """Why the ``skip-in-grading`` tags of ``nb`` are not allowed (empty: they are)."""
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if SKIP_TAG not in _tags(cell):
            continue
        name = cell.get("id") or f"#{i}"
        role = _role(cell)
        if role:
            problems.append(f"cell {name} is a {role} and must never be skipped in grading: "
                            f"remove its {SKIP_TAG} tag")
        elif cell.get("cell_type") != "code":
            problems.append(f"cell {name} is a {cell.get('cell_type')} cell: only code cells "
                            f"can be tagged {SKIP_TAG}")
    return problems


# ----------------------------------------------------------------------------------------------
# Static analysis of the names a cell binds, changes and reads


def _python(source: str) -> str:
    """Cell source as plain Python (IPython magics and shell escapes transformed away)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to the raw text
        return source


def _root_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)
#: Modules whose seeding or configuration changes what every later cell computes.
_STATE_MODULES = {"torch", "np", "numpy", "random"}


def _local_names(scope) -> set:
    """Names bound in ``scope``'s own namespace (a function, lambda or comprehension): its
    parameters and everything its body stores, minus names declared ``global``."""
    names, declared = set(), set()
    args = getattr(scope, "args", None)
    if isinstance(args, ast.arguments):
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                names.add(a.arg)
    if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        roots = [g.target for g in scope.generators]
    else:
        roots = scope.body if isinstance(scope.body, list) else [scope.body]
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # its body is its own scope
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.Global):
            declared.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names - declared


class _Scan(ast.NodeVisitor):
    """Module-level bindings, names possibly changed in place, and the names a cell reads from
    the notebook's namespace: a read counts unless the name is local to the function (or
    comprehension) that reads it, or the cell itself bound it before (at module level) or anywhere
    at module level (inside a function body, which runs when called, after the cell's bindings)."""

    def __init__(self):
        self.binds, self.changes, self.imports = set(), set(), set()
        self.global_state = []
        self._scopes: list[set] = []
        self._top_reads: list[tuple[str, bool]] = []  # (name, bound by this cell before the read)
        self._deep_reads: set = set()

    def _is_local(self, name) -> bool:
        return any(name in scope for scope in self._scopes)

    def _bind(self, name):
        if not self._scopes:
            self.binds.add(name)

    def _read(self, name):
        if self._is_local(name):
            return
        if self._scopes:
            self._deep_reads.add(name)
        else:
            self._top_reads.append((name, name in self.binds))

    @property
    def reads(self) -> set:
        outer = {n for n, bound in self._top_reads if not bound}
        return outer | (self._deep_reads - self.binds)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id)

    def visit_Global(self, node):
        self.binds.update(node.names)

    def _scoped(self, node, name=None):
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)
        args = getattr(node, "args", None)
        if isinstance(args, ast.arguments):  # defaults are evaluated where the function is defined
            for d in [*args.defaults, *args.kw_defaults]:
                if d is not None:
                    self.visit(d)
        if name is not None:
            self._bind(name)
        self._scopes.append(_local_names(node) if isinstance(node, _SCOPES) else set())
        skip = set(map(id, getattr(node, "decorator_list", [])))
        for child in ast.iter_child_nodes(node):
            if id(child) not in skip and not isinstance(child, ast.arguments):
                self.visit(child)
        self._scopes.pop()

    def visit_FunctionDef(self, node):
        self._scoped(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for base in [*node.bases, *(k.value for k in node.keywords)]:
            self.visit(base)
        self._bind(node.name)
        self._scopes.append(set())
        for child in node.body:
            self.visit(child)
        self._scopes.pop()

    def visit_Lambda(self, node):
        self._scoped(node)

    def visit_ListComp(self, node):
        self._scoped(node)

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_Import(self, node):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self._bind(name)
            self.imports.add(name)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name)
                self.imports.add(alias.asname or alias.name)

    def _store_target(self, target):
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            if root and not self._is_local(root):
                self.changes.add(root)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._store_target(t)

    # The value is evaluated before the targets are bound: visit it first, so `x = x + 1` reads x.
    def visit_Assign(self, node):
        self.visit(node.value)
        for t in node.targets:
            self._store_target(t)
            self.visit(t)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        self._store_target(node.target)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self.visit(node.target)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
        self._store_target(node.target)
        self.visit(node.target)

    def visit_Delete(self, node):
        for t in node.targets:
            self._store_target(t)
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute):
            root = _root_name(func.value)
            # torch.manual_seed(0) seeds everyone; torch.Generator().manual_seed(0) only its own.
            # Only at module level: a function body seeds when it is called, and a kept cell that
            # calls it reads its name, which is checked anyway.
            if (func.attr in _GLOBAL_STATE_CALLS and root in (_STATE_MODULES | self.imports)
                    and not self._scopes):
                self.global_state.append(ast.unparse(func))
            if root and not self._is_local(root):
                self.changes.add(root)  # obj.method(...) may change obj (model.train(), list.append)
        if not (isinstance(func, ast.Name) and func.id in _PURE_BUILTINS):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                root = _root_name(arg)
                if root and not self._is_local(root):
                    self.changes.add(root)  # f(model) may train model in place
        self.generic_visit(node)


def cell_names(source: str) -> dict:
    """{binds, changes, reads, global_state} of one code cell's source. ``changes`` leaves out
    imported modules (``torch.zeros(...)`` does not change torch); calls that set global state
    (seeds, thread counts) are listed in ``global_state``."""
    tree = ast.parse(_python(source))
    scan = _Scan()
    scan.visit(tree)
    return {"binds": scan.binds, "changes": scan.changes - scan.imports, "reads": scan.reads,
            "global_state": scan.global_state}


def dependency_problems(nb, skipped_ids=None) -> list[str]:
    """Why skipping the cells ``skipped_ids`` (default: those tagged skip-in-grading) could change
    what a cell kept by grading computes (empty: it cannot, as far as names show)."""
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if skipped_ids is None:
        skipped_ids = {c.get("id") for c in cells if SKIP_TAG in _tags(c)}
    skipped_ids = set(skipped_ids)
    problems, imported = [], set()
    # name -> the skipped cell whose binding or change of it is still the latest one
    pending: dict[str, str] = {}
    for i, cell in enumerate(cells):
        cid = cell.get("id") or f"#{i}"
        try:
            names = cell_names(cell.get("source", ""))
        except SyntaxError as exc:
            problems.append(f"cell {cid} does not parse ({exc.msg}): cannot prove anything about it")
            continue
        if cid in skipped_ids:
            imported |= _imports_of(cell)
            if names["global_state"]:
                problems.append(f"skipped cell {cid} changes state every later cell sees: "
                                f"{', '.join(sorted(set(names['global_state'])))}")
            for n in names["binds"] | (names["changes"] - imported):
                pending[n] = cid
            continue
        for n in sorted(names["reads"] & set(pending)):
            problems.append(f"cell {cid} ({_role(cell) or 'kept cell'}) reads {n!r}, which "
                            f"skipped cell {pending[n]} defines or changes")
        for n in names["binds"]:
            pending.pop(n, None)
        imported |= _imports_of(cell)
    return problems


def _imports_of(cell) -> set:
    try:
        tree = ast.parse(_python(cell.get("source", "")))
    except SyntaxError:
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out |= {a.asname or a.name for a in node.names if a.name != "*"}
    return out


def skippable_cells(nb) -> list[str]:
    """Ids of the ordinary code cells that could be tagged skip-in-grading one at a time without a
    dependency problem: candidates for a lesson's owner to review (not a decision)."""
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or _role(cell) or not cell.get("id"):
            continue
        if not dependency_problems(nb, {cell["id"]}):
            out.append(cell["id"])
    return out


# ----------------------------------------------------------------------------------------------
# The nbgrader preprocessor


class SkipExperimentCells(NbGraderPreprocessor):
    """Replace the instructor-tagged, unedited experiment cells of a submission by a comment before
    it executes (see the module docstring). Configured for ``autograde`` in nbgrader_config.py."""

    source_notebook = Unicode(
        "solutions/{assignment}/{notebook}.ipynb",
        help="The instructor's notebook, relative to the course folder nbgrader runs in."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        import nbformat

        info = resources.get("nbgrader", {})
        path = Path(self.source_notebook.format(assignment=info.get("assignment", ""),
                                                notebook=info.get("notebook", "")))
        if not path.is_file():
            raise FileNotFoundError(f"SkipExperimentCells: no source notebook at {path.resolve()}")
        source = nbformat.read(str(path), as_version=4)
        problems = tag_problems(source)
        if problems:
            raise ValueError(f"{path}: " + "; ".join(problems))
        tagged = {c.get("id"): c.source.strip() for c in source.cells
                  if c.cell_type == "code" and SKIP_TAG in _tags(c)}
        skipped = 0
        for cell in nb.cells:
            if cell.cell_type != "code" or cell.get("id") not in tagged:
                continue
            if _role(cell) or cell.source.strip() != tagged[cell.get("id")]:
                continue  # turned into something else, or edited by the student: it runs
            cell.source = SKIPPED_SOURCE
            cell.outputs = []
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if SKIP_TAG not in tags:
                tags.append(SKIP_TAG)
            skipped += 1
        self.log.info("Skipped %d experiment cell(s) tagged %s", skipped, SKIP_TAG)
        return nb, resources
