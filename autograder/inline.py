"""Self-check from inside a lesson: the last cell of every notebook calls ``selfcheck_here``.

It grades the notebook as saved on disk, in a fresh kernel with the hidden tests (the same machinery
as ``python -m autograder selfcheck``), and prints the per-cell table. It does nothing while the
notebook is itself being graded, so grading never recurses.
"""
from __future__ import annotations

import os
from pathlib import Path

from .course import GRADING_FLAG

__all__ = ["selfcheck_here", "locate_notebook"]


def locate_notebook(lesson: str) -> Path:
    """The notebook this kernel belongs to, wherever the learner keeps it (``work/``, the course's
    working copy, or any other folder): Jupyter server's JPY_SESSION_NAME when it names an existing
    notebook (an absolute path, or a path relative to the server's root, which is the kernel's
    working folder or one above it), else ``<lesson>.ipynb`` in the working folder (where Jupyter
    starts the kernel)."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb"):
        candidate = Path(session)
        if candidate.is_absolute():
            if candidate.is_file():
                return candidate
        else:
            cwd = Path.cwd()
            for base in (cwd, *cwd.parents):
                if (base / candidate).is_file():
                    return base / candidate
    return Path.cwd() / f"{lesson}.ipynb"


def selfcheck_here(lesson: str) -> None:
    """Print this notebook's self-check table (save the notebook first)."""
    if os.environ.get(GRADING_FLAG):
        print("Self-check skipped: this notebook is being graded right now.")
        return
    path = locate_notebook(lesson)
    if not path.is_file():
        print(f"Self-check: cannot find {path}. Save the notebook, or run "
              f"`.venv/bin/python -m autograder selfcheck work/{lesson}/{lesson}.ipynb` "
              f"from the course folder instead.")
        return
    print(f"Grading {path} as last saved (save first: Ctrl+S). This takes about a minute...")
    # Imported here, not above: nbgrader's import costs seconds, which a notebook being graded
    # (where this returns at once) should not pay.
    from .grading import format_scores, selfcheck

    lesson_name, rows = selfcheck(path)
    print(format_scores(lesson_name, rows))
