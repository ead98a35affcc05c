"""Mutation testing of the grading tests: each wrong implementation must lose points.

Mutants live in ``tests/mutants/lessonNN.py``: a module with ``LESSON = "NN-topic"`` and
``MUTANTS``, a list of dicts ``dict(name=..., cell=<solution cell id>, tests=[<test cell ids>],
source=<replacement source of that cell>)``.

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

__all__ = ["MutantResult", "load_mutants", "run_mutants", "format_kill_table"]


@dataclass
class MutantResult:
    lesson: str
    name: str
    cell: str
    rejected: bool
    detail: str


def mutant_files(root: Path = ROOT) -> dict[str, Path]:
    """lesson -> its mutants file."""
    out = {}
    for path in sorted((Path(root) / "tests" / "mutants").glob("lesson*.py")):
        out[_load(path).LESSON] = path
    return out


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
