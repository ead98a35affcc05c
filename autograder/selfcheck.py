"""Self-check: one learner's notebook graded with the hidden tests, as a per-cell table."""
from __future__ import annotations

from pathlib import Path

from .course import ROOT, CellScore, Workspace, lesson_names
from .feedback import error_summary
from .model_cache import warm_model_cache
from .notebooks import read_notebook
from .submission import _policy_findings, grade_cell_changes, readable

__all__ = ["selfcheck", "format_scores", "SelfCheckRows"]


class SelfCheckRows(list):
    """The per-cell rows of a self-check, with ``flags``: why the grader would flag the notebook
    for an instructor's review (test cells changed, the static policy, the guard), so a learner
    sees it before handing in. ``format_scores`` prints them."""

    flags: list[str]

    def __init__(self, rows=(), flags=()):
        super().__init__(rows)
        self.flags = list(flags)


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
    problem = readable(notebook)
    if problem:
        raise ValueError(f"{notebook}: {problem}")
    with Workspace(root, lessons=[lesson]) as ws:
        if ws.sandboxed:
            warm_model_cache([lesson], root)
        released = ws.generate(lesson)
        mine = read_notebook(notebook)
        flags = grade_cell_changes(mine, read_notebook(released),
                                   read_notebook(ws.path / "solutions" / lesson / f"{lesson}.ipynb"))
        flags += _policy_findings(ws, lesson, mine)
        ws.submit(lesson, "self", notebook)
        ws.autograde(lesson, "self")
        flags += ws.guard_findings(lesson, "self")
        graded = read_notebook(ws.autograded_notebook(lesson, "self"))
        by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
        rows = SelfCheckRows(flags=dict.fromkeys(flags))
        for s in ws.scores(lesson, "self"):
            if not s.auto:
                msg = "written answer: graded by an instructor"
            elif s.score == s.max_score:
                msg = "passed"
            else:
                msg = "failed: " + (error_summary(by_id.get(s.grade_id, {})) or "no output")
            rows.append((s, msg))
    return lesson, rows


def format_scores(lesson: str, rows, flags=None) -> str:
    """The self-check table as text; then the reasons the grader would flag the notebook
    (``flags``, by default the rows' own)."""
    flags = list(getattr(rows, "flags", []) if flags is None else flags)
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
    if flags:
        lines.append("Flagged: the course's grader would set this notebook's score to 0 until an "
                     "instructor has reviewed it, because:")
        lines += [f"  - {reason}" for reason in flags]
    return "\n".join(lines)
