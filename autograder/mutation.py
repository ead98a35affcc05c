"""Mutation testing of the grading tests (each wrong implementation must lose points), and its
mirror, the alternatives suite (each different-but-correct implementation must keep full marks).

Mutants live in ``tests/mutants/lessonNN.py``: a module with ``LESSON = "NN-topic"`` and
``MUTANTS``, a list of dicts ``dict(name=..., cell=<solution cell id>, tests=[<test cell ids>],
source=<replacement source of that cell>)``. Write them with ``Mutator``: each mutant is the
solution cell, read from the solution notebook when the module is imported, with one plausible
mistake edited in, so a mutant can never drift from the solution it mutates::

    from autograder.mutation import Mutator
    LESSON = "04-linear-quantization"
    M = Mutator(LESSON, tests={"qparams": ["test-qparams"]})
    MUTANTS = [M("zero point truncated", "qparams", ("torch.round(", "torch.trunc("))]

Alternatives live in ``tests/alternatives/lessonNN.py``: ``LESSON`` and ``ALTERNATIVES``, a list of
``dict(name=..., cell=<solution cell id>, source=<a complete, correct student answer>)``. They are
written from the exercise text, not derived from the solution: another PyTorch tool, another dtype,
a loop instead of a vectorised expression. ``run_alternatives`` grades the solution notebook with
the alternatives in place, through nbgrader exactly as a submission, and requires full marks on
every autograded cell and no error in any cell (later cells may use only what the exercise text
promises).

One kernel per lesson runs the solution notebook (with its hidden tests) once. Then for each mutant
it runs the mutant's source in place of the solution cell, runs that exercise's test cells, records
whether any of them failed (a failed test cell scores zero in nbgrader), and runs the original
cell again to restore the correct definition. The correct solution is re-checked after all mutants.
"""
from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import ROOT, isolated_env, notebook_path
from .feedback import error_summary

__all__ = ["MutantResult", "Mutator", "load_mutants", "run_mutants", "format_kill_table",
           "AlternativeResult", "alternative_files", "load_alternatives", "run_alternatives",
           "format_alternatives_table"]


class Mutator:
    """Makes mutants of one lesson's solution cells: ``M(name, cell, (old, new), ...)``.

    ``tests`` maps each solution cell id to the ids of the test cells that must reject its mutants.
    Each ``(old, new)`` edit replaces text that must occur exactly once in the cell (after the
    edits before it): an edit that no longer applies raises at import, instead of silently testing
    the unchanged solution. ``source=`` replaces the whole cell instead (for a mutant that is a
    different wrong algorithm rather than an edit)."""

    def __init__(self, lesson: str, tests: dict[str, list[str]], root: Path = ROOT):
        from .notebooks import read_notebook

        self.lesson = lesson
        self.tests = dict(tests)
        self.cells = {c.get("id"): c.source for c in read_notebook(notebook_path(lesson, "solutions", root)).cells}
        for cell, test_ids in self.tests.items():
            for cid in [cell, *test_ids]:
                if cid not in self.cells:
                    raise ValueError(f"{lesson}: no cell {cid!r} in the solution notebook")

    def __call__(self, name: str, cell: str, *edits: tuple[str, str], source: str | None = None) -> dict:
        if cell not in self.tests:
            raise ValueError(f"mutant {name!r}: cell {cell!r} has no test cells in Mutator(tests=...)")
        if source is not None and edits:
            raise ValueError(f"mutant {name!r}: give either edits or source=, not both")
        text = self.cells[cell] if source is None else source
        for old, new in edits:
            if text.count(old) != 1:
                raise ValueError(f"mutant {name!r}: {old!r} occurs {text.count(old)} times in cell {cell!r}")
            text = text.replace(old, new)
        if text == self.cells[cell]:
            raise ValueError(f"mutant {name!r} is the solution itself")
        return dict(name=name, cell=cell, tests=list(self.tests[cell]), source=text)


@dataclass
class MutantResult:
    lesson: str
    name: str
    cell: str
    rejected: bool
    detail: str


def _lesson_files(root: Path, folder: str) -> dict[str, Path]:
    """lesson -> its file ``tests/<folder>/lessonNN.py`` (named by the file's ``LESSON``)."""
    return {_load(path).LESSON: path
            for path in sorted((Path(root) / "tests" / folder).glob("lesson*.py"))}


def mutant_files(root: Path = ROOT) -> dict[str, Path]:
    """lesson -> its mutants file."""
    return _lesson_files(root, "mutants")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_mutants_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_mutants(lesson: str, root: Path = ROOT) -> list[dict]:
    files = mutant_files(root)
    if lesson not in files:
        raise FileNotFoundError(f"no mutants file for lesson {lesson} in tests/mutants/")
    mutants = _load(files[lesson]).MUTANTS
    for m in mutants:
        missing = {"name", "cell", "tests", "source"} - set(m)
        if missing:
            raise ValueError(f"{files[lesson]}: mutant {m.get('name')!r} lacks {sorted(missing)}")
    return mutants


def _run(client, source: str, index: int) -> str | None:
    """Execute ``source`` in the client's kernel; the error summary, or None when it ran cleanly."""
    cell = nbformat.v4.new_code_cell(source)
    client.execute_cell(cell, index)
    return error_summary(cell)


def run_mutants(lesson: str, root: Path = ROOT, timeout: int = 300) -> list[MutantResult]:
    """Run every mutant of ``lesson``; a mutant is rejected when one of its test cells fails."""
    from nbclient import NotebookClient

    mutants = load_mutants(lesson, root)
    nb = nbformat.read(str(notebook_path(lesson, "solutions", root)), as_version=4)
    cells = {c.get("id"): (i, c) for i, c in enumerate(nb.cells)}
    for m in mutants:
        for cid in [m["cell"], *m["tests"]]:
            if cid not in cells:
                raise ValueError(f"mutant {m['name']!r} names cell {cid!r}, which lesson {lesson} "
                                 f"does not have")
    private = tempfile.TemporaryDirectory(prefix="mc-mutants-")
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(notebook_path(lesson, "solutions", root).parent)}})
    results = []
    with private, client.setup_kernel(env=isolated_env(Path(root), Path(private.name))):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
                err = error_summary(cell)
                if err:
                    raise RuntimeError(f"the solution of {lesson} fails in cell {cell.get('id')}: {err}")
        for m in mutants:
            idx, original = cells[m["cell"]]
            err = _run(client, m["source"], idx)
            failures = []
            if err:
                failures.append(f"{m['cell']}: {err}")
            for t in m["tests"]:
                tidx, tcell = cells[t]
                terr = _run(client, tcell.source, tidx)
                if terr:
                    failures.append(f"{t}: {terr.splitlines()[0][:120]}")
            results.append(MutantResult(lesson, m["name"], m["cell"], bool(failures),
                                        failures[0] if failures else "all tests passed"))
            restore = _run(client, original.source, idx)
            if restore:
                raise RuntimeError(f"restoring cell {m['cell']} failed: {restore}")
        # The correct solution must still pass every test after the mutants ran.
        for m in mutants:
            for t in m["tests"]:
                tidx, tcell = cells[t]
                err = _run(client, tcell.source, tidx)
                if err:
                    raise RuntimeError(f"after the mutants, the solution fails {t}: {err}")
    return results


def format_kill_table(results: list[MutantResult]) -> str:
    """lesson, function (solution cell), mutants, rejected, then the survivors by name."""
    rows = {}
    for r in results:
        key = (r.lesson, r.cell)
        total, killed = rows.get(key, (0, 0))
        rows[key] = (total + 1, killed + r.rejected)
    w1 = max([len(k[0]) for k in rows] + [6])
    w2 = max([len(k[1]) for k in rows] + [8])
    lines = [f"{'lesson'.ljust(w1)}  {'function'.ljust(w2)}  mutants  rejected"]
    for (lesson, cell), (total, killed) in rows.items():
        lines.append(f"{lesson.ljust(w1)}  {cell.ljust(w2)}  {total:7d}  {killed:8d}")
    survivors = [r for r in results if not r.rejected]
    lines.append(f"total: {len(results)} mutants, {len(results) - len(survivors)} rejected")
    for r in survivors:
        lines.append(f"SURVIVED: {r.lesson} {r.cell}: {r.name}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Alternatives: correct answers written differently must keep full marks

@dataclass
class AlternativeResult:
    lesson: str
    name: str
    cell: str
    ok: bool
    detail: str


def alternative_files(root: Path = ROOT) -> dict[str, Path]:
    """lesson -> its alternatives file (``tests/alternatives/lessonNN.py``)."""
    return _lesson_files(root, "alternatives")


def load_alternatives(lesson: str, root: Path = ROOT) -> list[dict]:
    files = alternative_files(root)
    if lesson not in files:
        raise FileNotFoundError(f"no alternatives file for lesson {lesson} in tests/alternatives/")
    alts = _load(files[lesson]).ALTERNATIVES
    for a in alts:
        missing = {"name", "cell", "source"} - set(a)
        if missing:
            raise ValueError(f"{files[lesson]}: alternative {a.get('name')!r} lacks {sorted(missing)}")
    return alts


def _rounds(alts: list[dict]) -> list[list[dict]]:
    """Round k holds the k-th alternative of every cell: one graded run covers several cells."""
    by_cell: dict[str, list[dict]] = {}
    for a in alts:
        by_cell.setdefault(a["cell"], []).append(a)
    depth = max((len(v) for v in by_cell.values()), default=0)
    return [[v[k] for v in by_cell.values() if k < len(v)] for k in range(depth)]


def _grade_with(ws, lesson: str, student: str, replacements: list[dict], root: Path):
    """Grade the solution notebook with ``replacements`` in place: (scores, autograded notebook)."""
    from .notebooks import read_notebook, write_notebook

    nb = read_notebook(notebook_path(lesson, "solutions", root))
    ids = {c.get("id"): c for c in nb.cells}
    for a in replacements:
        if a["cell"] not in ids:
            raise ValueError(f"alternative {a['name']!r} names cell {a['cell']!r}, which lesson "
                             f"{lesson} does not have")
        ids[a["cell"]].source = a["source"]
    path = ws.path / "alternatives-in" / student / f"{lesson}.ipynb"
    write_notebook(nb, path)
    ws.submit(lesson, student, path)
    ws.autograde(lesson, student)
    return ws.scores(lesson, student), read_notebook(ws.autograded_notebook(lesson, student))


def _problems(scores, graded) -> list[str]:
    out = [f"{s.grade_id}: {s.score:g}/{s.max_score:g}" for s in scores
           if s.auto and s.score != s.max_score]
    for cell in graded.cells:
        err = error_summary(cell) if cell.cell_type == "code" else None
        if err:
            out.append(f"cell {cell.get('id')} raised {err.splitlines()[0][:160]}")
    return out


def run_alternatives(lesson: str, root: Path = ROOT) -> list[AlternativeResult]:
    """Grade the solution with each alternative in place (several cells per run); an alternative
    passes when every autograded cell keeps full marks and no cell of the notebook raises. A run
    that fails is repeated one alternative at a time, so the report names the culprit."""
    from .course import Workspace
    from .grading import _warm_model_cache

    alts = load_alternatives(lesson, root)
    results = []
    with Workspace(root, lessons=[lesson]) as ws:
        _warm_model_cache([lesson], root)
        ws.generate(lesson)
        for k, group in enumerate(_rounds(alts)):
            problems = _problems(*_grade_with(ws, lesson, f"round{k}", group, root))
            if not problems:
                results += [AlternativeResult(lesson, a["name"], a["cell"], True, "full marks") for a in group]
                continue
            for j, a in enumerate(group):
                alone = problems if len(group) == 1 else _problems(
                    *_grade_with(ws, lesson, f"round{k}-{j}", [a], root))
                results.append(AlternativeResult(lesson, a["name"], a["cell"], not alone,
                                                 "; ".join(alone[:3]) or "full marks"))
    return results


def format_alternatives_table(results: list[AlternativeResult]) -> str:
    lines = [f"{'lesson':22s}  {'cell':28s}  result  alternative"]
    for r in results:
        lines.append(f"{r.lesson:22s}  {r.cell:28s}  {'ok' if r.ok else 'LOST':6s}  {r.name}"
                     + ("" if r.ok else f"  ({r.detail})"))
    bad = sum(not r.ok for r in results)
    lines.append(f"total: {len(results)} alternatives, {len(results) - bad} keep full marks")
    return "\n".join(lines)
