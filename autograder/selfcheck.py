"""Self-check: one learner's notebook graded with the hidden tests, as a per-cell table."""
from __future__ import annotations

from pathlib import Path

from .course import ROOT, CellScore, Workspace, lesson_names
from .feedback import error_summary
from .model_cache import warm_model_cache
from .notebooks import read_notebook
from .submission import readable

__all__ = ["selfcheck", "format_scores"]


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
