"""Running nbgrader for the course, with its traps handled.

Every operation happens in a ``Workspace``: a temporary nbgrader course folder holding a copy of
the course's config and solution notebooks, its own gradebook and its own Jupyter/IPython folders.
Nothing is written into the repository unless asked (``build`` copies the generated lessons back),
and nothing from the machine's Jupyter configuration leaks in.

nbgrader's traps, and what this module does about them:
- it runs ``alembic`` as a subprocess: the interpreter's ``bin`` folder is put first on PATH;
- ``generate_assignment`` and ``autograde`` silently skip existing output: always ``--force``;
- ``validate`` exits 0 when tests fail: scores are read from the gradebook instead;
- it must run from the course root: every call runs with ``cwd`` = the workspace;
- autograded files are read-only: the workspace is removed with a handler that makes them writable.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).with_name("nbgrader_config.py")
LESSON_PATTERN = re.compile(r"^\d\d-[a-z0-9-]+$")
#: Set in the environment of every notebook the autograder runs, so a lesson can tell (see inline.py).
GRADING_FLAG = "MCLIB_GRADING"

__all__ = ["ROOT", "CellScore", "NbgraderError", "Workspace", "isolated_env", "lesson_names",
           "notebook_path", "check_lesson", "GRADING_FLAG"]


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds its output."""


def lesson_names(root: Path = ROOT) -> list[str]:
    """The lessons, in order: folders of ``solutions/`` named NN-topic."""
    folder = Path(root) / "solutions"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and LESSON_PATTERN.match(p.name))


def notebook_path(lesson: str, kind: str = "solutions", root: Path = ROOT) -> Path:
    """``<root>/<kind>/<lesson>/<lesson>.ipynb`` (kind: solutions or lessons)."""
    return Path(root) / kind / lesson / f"{lesson}.ipynb"


def check_lesson(lesson: str, root: Path = ROOT) -> str:
    known = lesson_names(root)
    if lesson not in known:
        raise ValueError(f"unknown lesson {lesson!r}; the lessons are: {', '.join(known)}")
    return lesson


@dataclass(frozen=True)
class CellScore:
    """The grade of one graded cell of one submission. ``auto`` is False for manually graded cells,
    whose score stays 0 until an instructor grades them."""

    grade_id: str
    score: float
    max_score: float
    auto: bool


def isolated_env(root: Path, private: Path) -> dict:
    """The environment nbgrader and kernels run in: Jupyter/IPython folders under ``private`` (so
    the machine's configuration neither leaks in nor gets written), the interpreter's bin first on
    PATH (nbgrader runs alembic), the course importable, progress bars off, hashing seeded."""
    env = dict(os.environ)
    private = Path(private)
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        JUPYTER_CONFIG_DIR=str(private / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(private / "jupyter-runtime"),
        IPYTHONDIR=str(private / "ipython"),
        # mclib for the lessons, autograder for nbgrader's feedback preprocessor.
        PYTHONPATH=os.pathsep.join(dict.fromkeys(
            p for p in [str(root), str(ROOT), env.get("PYTHONPATH", "")] if p)),
        MCLIB_PROGRESS="0",
        **{GRADING_FLAG: "1"},
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYTHONHASHSEED="0",
    )
    env.pop("JUPYTER_PATH", None)
    return env


def _make_writable_and_retry(func, path, _exc):
    os.chmod(path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
    func(path)


class Workspace:
    """A temporary nbgrader course folder. Use as a context manager, or call ``close()``."""

    def __init__(self, root: Path = ROOT, path: Path | None = None, lessons=None):
        self.root = Path(root)
        self._owned = path is None
        self.path = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="mc-grade-"))
        self.path.mkdir(parents=True, exist_ok=True)
        shutil.copy(CONFIG, self.path / "nbgrader_config.py")
        for lesson in lessons if lessons is not None else lesson_names(self.root):
            src = self.root / "solutions" / check_lesson(lesson, self.root)
            shutil.copytree(src, self.path / "solutions" / lesson, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        self._generated: set[str] = set()

    # -- plumbing ------------------------------------------------------------------------------
    def env(self) -> dict:
        return isolated_env(self.root, self.path / ".home")

    def nbgrader(self, *args: str, timeout: float | None = None) -> str:
        """Run ``nbgrader ARGS`` in the workspace; raise NbgraderError on a non-zero exit."""
        cmd = [sys.executable, "-m", "nbgrader", *args]
        proc = subprocess.run(cmd, cwd=self.path, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise NbgraderError(f"`nbgrader {' '.join(args)}` exited {proc.returncode}:\n"
                                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout + proc.stderr

    # -- operations ----------------------------------------------------------------------------
    def generate(self, lesson: str) -> Path:
        """Generate the student version of ``lesson`` (and record its grade cells in the
        gradebook); returns the released notebook's path."""
        self.nbgrader("generate_assignment", lesson, "--force", "--create")
        self._generated.add(lesson)
        return self.path / "lessons" / lesson / f"{lesson}.ipynb"

    def submit(self, lesson: str, student: str, notebook: Path) -> Path:
        """Place ``notebook`` as ``student``'s submission of ``lesson``."""
        if not re.match(r"^[A-Za-z0-9_.-]+$", student):
            raise ValueError(f"student ids may hold letters, digits, '.', '_' and '-', got {student!r}")
        dest = self.path / "submitted" / student / lesson / f"{lesson}.ipynb"
        if dest.parent.exists():
            shutil.rmtree(dest.parent, onerror=_make_writable_and_retry)
        dest.parent.mkdir(parents=True)
        shutil.copy(notebook, dest)
        return dest

    def autograde(self, lesson: str, student: str | None = None) -> None:
        """Autograde the submissions of ``lesson`` (one student's, or all)."""
        if lesson not in self._generated:
            self.generate(lesson)
        args = ["autograde", lesson, "--force", "--create"]
        if student is not None:
            args += ["--student", student]
        self.nbgrader(*args)

    def feedback(self, lesson: str, student: str | None = None) -> None:
        """Write HTML feedback for the autograded submissions into ``feedback/``."""
        args = ["generate_feedback", lesson, "--force"]
        if student is not None:
            args += ["--student", student]
        self.nbgrader(*args)

    def autograded_notebook(self, lesson: str, student: str) -> Path:
        return self.path / "autograded" / student / lesson / f"{lesson}.ipynb"

    def feedback_file(self, lesson: str, student: str) -> Path:
        return self.path / "feedback" / student / lesson / f"{lesson}.html"

    def scores(self, lesson: str, student: str) -> list[CellScore]:
        """The graded cells of ``student``'s submission of ``lesson``, in notebook order."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gb:
            nb = gb.find_submission_notebook(lesson, lesson, student)
            order = {c.name: i for i, c in enumerate(gb.find_notebook(lesson, lesson).grade_cells)}
            # Course convention: graded code cells are autograded tests, graded markdown cells
            # are written answers for an instructor.
            out = [CellScore(g.name, float(g.score), float(g.max_score), g.cell.cell_type == "code")
                   for g in nb.grades]
        return sorted(out, key=lambda s: order.get(s.grade_id, 0))

    def close(self) -> None:
        if self._owned and self.path.exists():
            shutil.rmtree(self.path, onerror=_make_writable_and_retry)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
