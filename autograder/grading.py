"""Grading operations built on a Workspace: build, validate, grade a class, self-check one notebook."""
from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import ROOT, CellScore, NbgraderError, Workspace, check_lesson, lesson_names, notebook_path
from .feedback import error_summary
from .notebooks import canonical_text, read_notebook, write_notebook

__all__ = ["build", "validate", "LessonCheck", "grade_folder", "SubmissionResult", "selfcheck",
           "format_scores", "find_submissions"]


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
        for lesson in lessons:
            released = ws.generate(lesson)
            ws.submit(lesson, "solution", notebook_path(lesson, "solutions", root))
            ws.submit(lesson, "blank", released)
            start = time.perf_counter()
            ws.autograde(lesson, "solution")
            seconds = time.perf_counter() - start
            ws.autograde(lesson, "blank")
            sol, blank = ws.scores(lesson, "solution"), ws.scores(lesson, "blank")
            check = LessonCheck(lesson, sol, blank, seconds,
                                released_text=canonical_text(read_notebook(released)))
            autograded = [s for s in sol if s.auto]
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
    status: str  # "graded", or why it could not be graded
    cells: list[CellScore] = field(default_factory=list)
    max_score: float = 0.0

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def needs_manual(self) -> bool:
        return any(not c.auto for c in self.cells)


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


def grade_folder(submissions: Path, out: Path, lessons=None, root: Path = ROOT,
                 feedback: bool = True) -> list[SubmissionResult]:
    """Autograde every submission in ``submissions`` into ``out/grades.csv`` and (optionally)
    ``out/feedback/<student>/<lesson>/<lesson>.html``. Each submission is graded on its own, so
    a broken one cannot affect the others."""
    lessons = [check_lesson(l, root) for l in (lessons or lesson_names(root))]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with Workspace(root, lessons=lessons) as ws:
        max_by_lesson = {}
        for lesson in lessons:
            ws.generate(lesson)
        for student, lesson, nb, problem in find_submissions(submissions, lessons):
            problem = problem or _readable(nb)
            if problem:
                results.append(SubmissionResult(student, lesson, problem))
                continue
            ws.submit(lesson, student, nb)
            try:
                ws.autograde(lesson, student)
                cells = ws.scores(lesson, student)
                if feedback:
                    ws.feedback(lesson, student)
                    src = ws.feedback_file(lesson, student)
                    dest = out / "feedback" / student / lesson / src.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, dest)
                result = SubmissionResult(student, lesson, "graded", cells,
                                          sum(c.max_score for c in cells))
                max_by_lesson[lesson] = result.max_score
            except NbgraderError as exc:
                result = SubmissionResult(student, lesson,
                                          f"grading failed: {str(exc).splitlines()[0][:200]}")
            results.append(result)
        for r in results:
            if not r.max_score:
                r.max_score = max_by_lesson.get(r.lesson, 0.0)
    write_csv(results, out / "grades.csv")
    return results


def write_csv(results, path: Path) -> None:
    """One row per (student, lesson): totals, status, then one column per graded cell."""
    cell_ids = list(dict.fromkeys(f"{r.lesson}:{c.grade_id}" for r in results for c in r.cells))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "lesson", "score", "max_score", "needs_manual_grading", "status",
                    *cell_ids])
        for r in sorted(results, key=lambda r: (r.student, r.lesson)):
            by = {f"{r.lesson}:{c.grade_id}": c.score for c in r.cells}
            w.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}",
                        "yes" if r.needs_manual else "no", r.status,
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
