"""Grading one submission: the per-submission entry point ``grade_submission``, its options and
result, and the grader-side checks (test cells changed, the static policy, the guard's findings,
limits hit)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import CellScore, GradingTimeout, NbgraderError, Workspace, notebook_path
from .feedback import error_summary
from .notebooks import read_notebook

__all__ = ["SubmissionResult", "GradingOptions", "grade_submission", "find_submissions",
           "grade_cell_changes", "readable"]


@dataclass
class SubmissionResult:
    student: str
    lesson: str
    status: str  # "graded", "graded (notes)", "flagged: reasons", or why it could not be graded
    cells: list[CellScore] = field(default_factory=list)
    max_score: float = 0.0
    #: What the autograder scored before a flag set the score to 0 (None: not flagged).
    raw_score: float | None = None
    #: How the kernel was isolated: "bubblewrap" or "off" (grades.csv records it).
    sandbox: str = ""

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def needs_manual(self) -> bool:
        return any(not c.auto for c in self.cells)

    @property
    def flagged(self) -> bool:
        return self.status.startswith("flagged")


def find_submissions(folder: Path, lessons) -> list[tuple[str, str, Path | None, str]]:
    """(student, lesson, notebook or None, problem) for every student folder in ``folder`` and
    every lesson. Accepted layouts: ``<student>/<lesson>/<lesson>.ipynb`` (nbgrader's) and
    ``<student>/<lesson>.ipynb``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    found = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for lesson in lessons:
            candidates = [student_dir / lesson / f"{lesson}.ipynb", student_dir / f"{lesson}.ipynb"]
            nb = next((c for c in candidates if c.is_file()), None)
            if nb is None:
                others = sorted(p.name for p in (student_dir / lesson).glob("*.ipynb")) if (
                    student_dir / lesson).is_dir() else []
                problem = (f"missing notebook: expected {lesson}/{lesson}.ipynb"
                           + (f" (found {', '.join(others)}: renamed?)" if others else ""))
                found.append((student_dir.name, lesson, None, problem))
            else:
                found.append((student_dir.name, lesson, nb, ""))
    return found


def readable(nb_path: Path) -> str:
    try:
        nb = nbformat.read(str(nb_path), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook is reported, not fatal
        return f"invalid notebook: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return ""


def grade_cell_changes(submitted, released, source=None) -> list[str]:
    """How ``submitted`` changed the test and locked cells of ``released`` (the student version
    as generated): deleted, edited, or turned into ordinary cells. nbgrader puts edited test
    cells back before grading; these are reasons to flag the submission. A cell equal to the one
    in ``source`` (the instructor's notebook, hidden tests included) is not a change."""
    def protected(nb):
        out = {}
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade_id") and cell.cell_type == "code" and (meta.get("locked") or (
                    meta.get("grade") and not meta.get("solution"))):
                out[meta["grade_id"]] = cell
        return out

    theirs = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in submitted.cells}
    original = protected(source) if source is not None else {}
    changes = []
    for gid, cell in protected(released).items():
        mine = theirs.get(gid)
        if mine is None:
            changes.append(f"test cell {gid} deleted")
        elif mine.cell_type != "code" or not protected(nbformat.from_dict({"cells": [mine]})):
            changes.append(f"test cell {gid} unlocked or turned into another kind of cell")
        elif mine.source.strip() not in (cell.source.strip(),
                                         original.get(gid, cell).source.strip()):
            changes.append(f"test cell {gid} edited")
    return changes


def _cell_notes(nb) -> list[str]:
    """Errors of the cells that are not test cells (the student's code), for the status column:
    a timeout, running out of memory, an exception."""
    notes = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        err = error_summary(cell)
        if err:
            name = meta.get("grade_id") or cell.get("id") or "a cell"
            if err.startswith(("CellTimeoutError", "KeyboardInterrupt")):
                err = "stopped: ran longer than the time limit per cell"
            elif err.startswith("MemoryError") or "can't allocate memory" in err \
                    or "DefaultCPUAllocator" in err:
                err = "ran out of memory (MemoryError)"
            elif err.startswith("BlockingIOError") or "can't start new thread" in err:
                err = "process limit: could not start a process or thread"
            notes.append(f"{name}: {err.splitlines()[0][:100]}")
    return notes


@dataclass
class GradingOptions:
    """How each submission is graded (see ``grade_folder``; README lists every limit)."""

    feedback: bool = True
    submission_timeout: float = 600.0
    cell_timeout: float | None = None
    memory_mb: int | None = 4096
    sandbox: bool | None = None
    cpu_seconds: int | None = 1800
    pids: int | None = 256
    output_kb: int | None = 1000
    notebook_output_kb: int | None = 5000
    disk_mb: int = 512

    def __post_init__(self):
        if not isinstance(self.submission_timeout, (int, float)) or self.submission_timeout <= 0:
            raise ValueError(f"submission_timeout must be a positive number of seconds, "
                             f"got {self.submission_timeout!r}")
        if self.cell_timeout is not None and (not isinstance(self.cell_timeout, (int, float))
                                              or self.cell_timeout <= 0):
            raise ValueError(f"cell_timeout must be a positive number of seconds, got {self.cell_timeout!r}")
        if self.memory_mb is not None and (not isinstance(self.memory_mb, int) or self.memory_mb < 256):
            raise ValueError(f"memory_mb must be an integer of at least 256, got {self.memory_mb!r}")
        for name in ("cpu_seconds", "pids", "output_kb", "notebook_output_kb", "disk_mb"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.sandbox is True:
            from .sandbox import bwrap_path, sandbox_works
            if not sandbox_works(bwrap_path()):
                raise RuntimeError("a sandbox is required but bubblewrap (bwrap) is missing or "
                                   "cannot create namespaces on this machine")

    def workspace_kwargs(self) -> dict:
        """The Workspace arguments these options ask for (a grading worker makes one)."""
        return dict(sandbox=self.sandbox, cell_timeout=self.cell_timeout, memory_mb=self.memory_mb,
                    cpu_seconds=self.cpu_seconds, pids=self.pids, output_kb=self.output_kb,
                    notebook_output_kb=self.notebook_output_kb, disk_mb=self.disk_mb)


def _policy_findings(ws: Workspace, lesson: str, nb) -> list[str]:
    from .policy import check_notebook

    source = read_notebook(notebook_path(lesson, "solutions", ws.path))
    return [f.reason() for f in check_notebook(nb, source, lesson)]


def _limit_notes(ws: Workspace, lesson: str, student: str, graded) -> list[str]:
    """Which resource limits the submission hit, named as README names them."""
    from .verdicts import OUTPUT_CUT

    notes = []
    from .guard import OUTPUT_CUT_KERNEL

    if any(marker in str(o.get("text", "")) for c in graded.cells if c.cell_type == "code"
           for o in c.get("outputs", []) for marker in (OUTPUT_CUT, OUTPUT_CUT_KERNEL)):
        notes.append(f"output limit: output beyond {ws.output_kb} kB per cell or "
                     f"{ws.notebook_output_kb} kB per notebook was dropped (--output-kb)")
    if ws.hit_process_limit():
        notes.append(f"process limit: a process or thread was refused at {ws.pids} (--max-processes)")
    if "cpu" in ws.limits_hit():
        notes.append(f"CPU-time limit: the kernel used {ws.cpu_seconds} s of CPU time and was "
                     f"stopped (--cpu-seconds)")
    return notes


def grade_submission(ws: Workspace, student: str, lesson: str, nb: Path | None, problem: str,
                     out: Path, opts: GradingOptions) -> SubmissionResult:
    """Grade one submission in ``ws`` (a Workspace made with ``opts.workspace_kwargs()``); write
    its feedback under ``out/feedback``. Every way it can go wrong ends in a status, not an error."""
    result = _grade(ws, student, lesson, nb, problem, out, opts)
    result.sandbox = "bubblewrap" if ws.sandboxed else "off"
    return result


def _grade(ws: Workspace, student: str, lesson: str, nb: Path | None, problem: str,
               out: Path, opts: GradingOptions) -> SubmissionResult:
    """Grade one submission in ``ws``; every way it can go wrong ends in a status, not an error."""
    problem = problem or readable(nb)
    if problem:
        return SubmissionResult(student, lesson, problem)
    flags = grade_cell_changes(read_notebook(nb), read_notebook(ws.released_notebook(lesson)),
                               read_notebook(notebook_path(lesson, "solutions", ws.path)))
    flags += _policy_findings(ws, lesson, read_notebook(nb))
    ws.submit(lesson, student, nb)
    try:
        ws.autograde(lesson, student, timeout=opts.submission_timeout)
        cells = ws.scores(lesson, student)
    except GradingTimeout:
        return SubmissionResult(student, lesson, f"not graded: stopped after "
                                f"{opts.submission_timeout:g} s (whole-submission time limit, --timeout)")
    except NbgraderError as exc:
        if "CellTimeoutError" in str(exc):
            # nbgrader interrupts a cell at the time limit; a cell that catches the interrupt
            # and goes on ends the whole run.
            return SubmissionResult(student, lesson, "not graded: a cell kept running after it was "
                                    "interrupted at the time limit per cell")
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        why = next((ln.strip() for ln in reversed(lines) if "Error" in ln or "died" in ln),
                   lines[0] if lines else "unknown error")
        return SubmissionResult(student, lesson, f"grading failed: {why[:200]}")
    graded = read_notebook(ws.autograded_notebook(lesson, student))
    flags += ws.guard_findings(lesson, student)
    result = SubmissionResult(student, lesson, "graded", cells, sum(c.max_score for c in cells))
    if flags:
        # A flagged submission scores nothing until an instructor has looked at it.
        result.raw_score = result.score
        result.cells = [CellScore(c.grade_id, 0.0, c.max_score, c.auto) for c in cells]
        result.status = "flagged: " + "; ".join(dict.fromkeys(flags + _limit_notes(ws, lesson, student, graded)))
        return result
    notes = _limit_notes(ws, lesson, student, graded) + _cell_notes(graded)
    submitted_ids = {c.get("id") for c in read_notebook(nb).cells}
    deleted = [c.get("id") for c in read_notebook(ws.released_notebook(lesson)).cells
               if c.get("id") and c.get("id") not in submitted_ids]
    if deleted:
        notes.insert(0, "cells deleted: " + ", ".join(deleted[:5]) + (", ..." if len(deleted) > 5 else ""))
    if notes:
        result.status = "graded (" + "; ".join(notes[:3]) + ("; ..." if len(notes) > 3 else "") + ")"
    if opts.feedback:
        try:
            ws.feedback(lesson, student)
        except NbgraderError as exc:
            result.status += f" [no feedback: {str(exc).splitlines()[0][:100]}]"
            return result
        src = ws.feedback_file(lesson, student)
        dest = out / "feedback" / student / lesson / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    return result
