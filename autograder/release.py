"""Building the student lessons from the solutions, and validating them: every solution full
marks, every blank lesson zero, the guard and the policy silent on the solution."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .course import ROOT, CellScore, Workspace, lesson_names, notebook_path
from .feedback import error_summary
from .model_cache import warm_model_cache
from .notebooks import canonical_text, read_notebook, write_notebook

__all__ = ["build", "validate", "LessonCheck", "policy_of_solutions"]


def policy_of_solutions(lesson: str, root: Path = ROOT):
    """What the static policy (policy.py) finds in the solution cells of ``lesson``'s solution
    notebook, as if a student had written them (it must find nothing)."""
    from .policy import _modules_of, check_source

    nb = read_notebook(notebook_path(lesson, "solutions", root))
    modules = _modules_of(nb)
    return [f for c in nb.cells if c.cell_type == "code"
            and c.get("metadata", {}).get("nbgrader", {}).get("solution")
            for f in check_source(c.source, c.get("id", "?"), modules)]


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
            warm_model_cache(lessons, root)
        for lesson in lessons:
            released = ws.generate(lesson)
            ws.submit(lesson, "solution", notebook_path(lesson, "solutions", root))
            ws.submit(lesson, "blank", released)
            start = time.perf_counter()
            ws.autograde(lesson, "solution")
            seconds = time.perf_counter() - start
            # Read before the next run: each run starts the guard's log afresh.
            guard_flags = ws.guard_findings(lesson, "solution")
            ws.autograde(lesson, "blank")
            sol, blank = ws.scores(lesson, "solution"), ws.scores(lesson, "blank")
            check = LessonCheck(lesson, sol, blank, seconds,
                                released_text=canonical_text(read_notebook(released)))
            autograded = [s for s in sol if s.auto]
            if guard_flags:
                # A false alarm on the solution would flag every correct student.
                check.problems.append("the grading guard flags the solution: " + "; ".join(guard_flags))
            if not autograded:
                check.problems.append("no autograded cells")
            for finding in policy_of_solutions(lesson, root):
                # The static policy must never flag the instructor's own answers.
                check.problems.append(f"the grading policy flags the solution: {finding.reason()}")
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
