"""Grading operations built on a Workspace: build, validate, grade a class, self-check one notebook."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import (ROOT, CellScore, GradingTimeout, NbgraderError, Workspace, check_lesson,
                     isolated_env, lesson_names, notebook_path)
from .feedback import error_summary
from .notebooks import canonical_text, read_notebook, write_notebook

__all__ = ["build", "validate", "LessonCheck", "grade_folder", "SubmissionResult", "selfcheck",
           "format_scores", "find_submissions", "grade_cell_changes", "default_workers",
           "write_csv"]


def build(lessons=None, root: Path = ROOT, out: Path | None = None) -> list[Path]:
    """Generate the student notebooks of ``lessons`` (default all) from the solutions into
    ``out`` (default ``<root>/lessons``), written in canonical form so a rebuild is byte-identical."""
    lessons = list(lessons or lesson_names(root))
    out = Path(out) if out is not None else Path(root) / "lessons"
    written = []
    with Workspace(root, lessons=lessons) as ws:
        for lesson in lessons:
            released = ws.generate(lesson)
            dest = out / lesson / released.name
            write_notebook(read_notebook(released), dest)
            written.append(dest)
    return written


@dataclass
class LessonCheck:
    """Validation of one lesson: the solution's and the blank lesson's scores per graded cell."""

    lesson: str
    solution: list[CellScore]
    blank: list[CellScore]
    solution_seconds: float
    released_text: str = ""  # the freshly generated student notebook, canonical bytes
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(lessons=None, root: Path = ROOT) -> list[LessonCheck]:
    """For each lesson: the solution notebook gets full marks on every autograded cell, and the
    student version (generated afresh) gets zero on every autograded cell."""
    results = []
    lessons = list(lessons or lesson_names(root))
    with Workspace(root, lessons=lessons) as ws:
        if ws.sandboxed:
            _warm_model_cache(lessons, root)
        for lesson in lessons:
            released = ws.generate(lesson)
            ws.submit(lesson, "solution", notebook_path(lesson, "solutions", root))
            ws.submit(lesson, "blank", released)
            start = time.perf_counter()
            ws.autograde(lesson, "solution")
            seconds = time.perf_counter() - start
            ws.autograde(lesson, "blank")
            sol, blank = ws.scores(lesson, "solution"), ws.scores(lesson, "blank")
            guard_flags = ws.guard_findings(lesson, "solution")
            check = LessonCheck(lesson, sol, blank, seconds,
                                released_text=canonical_text(read_notebook(released)))
            autograded = [s for s in sol if s.auto]
            if guard_flags:
                # A false alarm on the solution would flag every correct student.
                check.problems.append("the grading guard flags the solution: " + "; ".join(guard_flags))
            if not autograded:
                check.problems.append("no autograded cells")
            solved = read_notebook(ws.autograded_notebook(lesson, "solution"))
            by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in solved.cells}
            for s in autograded:
                if s.score != s.max_score:
                    why = error_summary(by_id.get(s.grade_id, {})) or "no error recorded"
                    check.problems.append(f"solution scores {s.score:g}/{s.max_score:g} on "
                                          f"{s.grade_id}: {why}")
            for s in blank:
                if s.auto and s.score != 0:
                    check.problems.append(f"blank lesson scores {s.score:g} on {s.grade_id}: "
                                          f"a test that passes without an answer")
            for cell in solved.cells:
                if cell.cell_type == "code" and error_summary(cell) and not cell.get(
                        "metadata", {}).get("nbgrader", {}).get("grade"):
                    check.problems.append(f"solution cell {cell.get('id')} raised "
                                          f"{error_summary(cell)}")
            results.append(check)
    return results


# ----------------------------------------------------------------------------------------------
# Grading a class

@dataclass
class SubmissionResult:
    student: str
    lesson: str
    status: str  # "graded", "graded (notes)", "flagged: reasons", or why it could not be graded
    cells: list[CellScore] = field(default_factory=list)
    max_score: float = 0.0
    #: What the autograder scored before a flag set the score to 0 (None: not flagged).
    raw_score: float | None = None

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


def _readable(nb_path: Path) -> str:
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
            notes.append(f"{name}: {err.splitlines()[0][:100]}")
    return notes


@dataclass
class GradingOptions:
    """How each submission is graded (see ``grade_folder``)."""

    feedback: bool = True
    submission_timeout: float = 600.0
    cell_timeout: float | None = None
    memory_mb: int | None = 4096
    sandbox: bool | None = None

    def __post_init__(self):
        if not isinstance(self.submission_timeout, (int, float)) or self.submission_timeout <= 0:
            raise ValueError(f"submission_timeout must be a positive number of seconds, "
                             f"got {self.submission_timeout!r}")
        if self.cell_timeout is not None and (not isinstance(self.cell_timeout, (int, float))
                                              or self.cell_timeout <= 0):
            raise ValueError(f"cell_timeout must be a positive number of seconds, got {self.cell_timeout!r}")
        if self.memory_mb is not None and (not isinstance(self.memory_mb, int) or self.memory_mb < 256):
            raise ValueError(f"memory_mb must be an integer of at least 256, got {self.memory_mb!r}")
        if self.sandbox is True:
            from .sandbox import bwrap_path, sandbox_works
            if not sandbox_works(bwrap_path()):
                raise RuntimeError("a sandbox is required but bubblewrap (bwrap) is missing or "
                                   "cannot create namespaces on this machine")


def _grade_one(ws: Workspace, student: str, lesson: str, nb: Path | None, problem: str,
               out: Path, opts: GradingOptions) -> SubmissionResult:
    """Grade one submission in ``ws``; every way it can go wrong ends in a status, not an error."""
    problem = problem or _readable(nb)
    if problem:
        return SubmissionResult(student, lesson, problem)
    flags = grade_cell_changes(read_notebook(nb), read_notebook(ws.released_notebook(lesson)),
                               read_notebook(notebook_path(lesson, "solutions", ws.path)))
    ws.submit(lesson, student, nb)
    try:
        ws.autograde(lesson, student, timeout=opts.submission_timeout)
        cells = ws.scores(lesson, student)
    except GradingTimeout:
        return SubmissionResult(student, lesson, f"not graded: stopped after "
                                f"{opts.submission_timeout:g} s (whole-submission time limit)")
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
        result.status = "flagged: " + "; ".join(dict.fromkeys(flags))
        return result
    notes = _cell_notes(graded)
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


def default_workers() -> int:
    """Worker processes for ``grade``: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def grade_folder(submissions: Path, out: Path, lessons=None, root: Path = ROOT,
                 feedback: bool = True, *, workers: int = 1, submission_timeout: float = 600.0,
                 cell_timeout: float | None = None, memory_mb: int | None = 4096,
                 sandbox: bool | None = None, progress: bool = False,
                 scheduler: str | None = None) -> list[SubmissionResult]:
    """Autograde every submission in ``submissions`` into ``out/grades.csv`` and (optionally)
    ``out/feedback/<student>/<lesson>/<lesson>.html``.

    Each submission is graded on its own, in a kernel that is sandboxed where bubblewrap works
    (``sandbox``), limited in memory (``memory_mb``), time per cell (``cell_timeout``, default the
    course's 120 s) and time in all (``submission_timeout``), and guarded against tampering;
    flagged submissions score 0 with the reasons in their status. Grading runs on Dask
    (classroom.py): ``workers`` local worker processes, each with its own workspace and gradebook,
    or the workers of a running cluster at ``scheduler``; the CSV is the same either way, and a
    run interrupted and started again grades only what is missing. ``progress`` shows a progress
    bar on stderr.
    """
    from .classroom import grade_class

    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    opts = GradingOptions(feedback, submission_timeout, cell_timeout, memory_mb, sandbox)
    return grade_class(submissions, out, lessons, root, opts=opts, workers=workers,
                       scheduler=scheduler, progress=progress).results


def _warm_model_cache(lessons, root: Path) -> None:
    """Train the shared models the lessons use (mclib.zoo) before grading, once for the machine:
    sandboxed kernels see the model cache read-only (so that one submission cannot plant a model
    for the others) and would otherwise each train their own copy."""
    if not any("zoo" in notebook_path(l, "solutions", root).read_text(encoding="utf-8")
               for l in lessons):
        return
    with tempfile.TemporaryDirectory(prefix="mc-warm-") as private:
        env = isolated_env(Path(root), Path(private))
        proc = subprocess.run([sys.executable, "-c", "from mclib import zoo\n"
                               "for make in zoo.RECIPES.values(): make()"], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training the shared models (mclib.zoo) failed:\n{proc.stderr[-2000:]}")


def write_csv(results, path: Path) -> None:
    """One row per (student, lesson): totals, status, then one column per graded cell."""
    cell_ids = list(dict.fromkeys(f"{r.lesson}:{c.grade_id}" for r in results for c in r.cells))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "lesson", "score", "max_score", "needs_manual_grading", "status",
                    "score_before_flag", *cell_ids])
        for r in sorted(results, key=lambda r: (r.student, r.lesson)):
            by = {f"{r.lesson}:{c.grade_id}": c.score for c in r.cells}
            w.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}",
                        "yes" if r.needs_manual else "no", r.status,
                        "" if r.raw_score is None else f"{r.raw_score:g}",
                        *[f"{by[k]:g}" if k in by else "" for k in cell_ids]])


# ----------------------------------------------------------------------------------------------
# Self-check

def _lesson_of(notebook: Path, root: Path) -> str:
    names = lesson_names(root)
    for candidate in (notebook.stem, notebook.parent.name):
        if candidate in names:
            return candidate
    raise ValueError(f"cannot tell which lesson {notebook} belongs to: name the file or its folder "
                     f"after a lesson ({', '.join(names)})")


def selfcheck(notebook: Path, root: Path = ROOT) -> tuple[str, list[tuple[CellScore, str]]]:
    """Grade one learner's notebook with the hidden tests: (lesson, [(cell score, message)])."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}")
    lesson = _lesson_of(notebook, root)
    problem = _readable(notebook)
    if problem:
        raise ValueError(f"{notebook}: {problem}")
    with Workspace(root, lessons=[lesson]) as ws:
        if ws.sandboxed:
            _warm_model_cache([lesson], root)
        ws.generate(lesson)
        ws.submit(lesson, "self", notebook)
        ws.autograde(lesson, "self")
        graded = read_notebook(ws.autograded_notebook(lesson, "self"))
        by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
        rows = []
        for s in ws.scores(lesson, "self"):
            if not s.auto:
                msg = "written answer: graded by an instructor"
            elif s.score == s.max_score:
                msg = "passed"
            else:
                msg = "failed: " + (error_summary(by_id.get(s.grade_id, {})) or "no output")
            rows.append((s, msg))
    return lesson, rows


def format_scores(lesson: str, rows) -> str:
    """The self-check table as text."""
    width = max([len(s.grade_id) for s, _ in rows] + [4])
    lines = [f"Self-check of lesson {lesson}", f"{'cell'.ljust(width)}  points     result"]
    auto_score = auto_max = 0.0
    for s, msg in rows:
        pts = f"{s.score:g} / {s.max_score:g}" if s.auto else f"– / {s.max_score:g}"
        first, *rest = msg.splitlines() or [""]
        lines.append(f"{s.grade_id.ljust(width)}  {pts.ljust(9)}  {first[:160]}")
        lines += [f"{'':{width}}  {'':9}  {ln[:160]}" for ln in rest[:3]]
        if s.auto:
            auto_score += s.score
            auto_max += s.max_score
    lines.append(f"Autograded total: {auto_score:g} / {auto_max:g}")
    return "\n".join(lines)
