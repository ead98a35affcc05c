"""The learner's own copy of the lessons: ``work/`` (git-ignored), where ``make lab`` opens JupyterLab.

``lessons/`` belongs to the course: it is regenerated from ``solutions/`` (``autograder build``)
and checked by the tests, so a learner who wrote in it would see ``make test`` fail on their own
answers and ``make lessons`` overwrite them. Their work lives in ``work/NN-topic/NN-topic.ipynb``
instead, copied from ``lessons/``:

* ``sync`` copies every lesson that ``work/`` does not have yet (and any file missing from a lesson
  folder it has), and never overwrites a file: run at every ``make lab``, it brings in a lesson
  added to the course later without touching the others.
* ``fresh`` gives one lesson a clean copy, after moving the learner's copy aside (renamed with the
  time, in the same folder), never deleting it.

Neither the tests nor ``autograder build`` read or write ``work/``.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from .course import ROOT, lesson_names

__all__ = ["WORK", "sync", "fresh", "aside_name"]

#: The learner's working copy, next to lessons/ (listed in .gitignore).
WORK = "work"


def _released(root: Path) -> Path:
    folder = Path(root) / "lessons"
    if not folder.is_dir():
        raise FileNotFoundError(f"no lessons folder at {folder}: run this from the course folder")
    return folder


def _lessons(root: Path) -> list[str]:
    released = _released(root)
    return [l for l in lesson_names(root) if (released / l).is_dir()]


def _files(folder: Path) -> list[Path]:
    """The files of a released lesson folder, relative to it (no checkpoints or caches)."""
    skip = {".ipynb_checkpoints", "__pycache__"}
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not skip & set(p.relative_to(folder).parts))


def sync(root: Path = ROOT, work: Path | None = None) -> list[Path]:
    """Copy into ``work`` (default ``<root>/work``) every file of ``lessons/`` it lacks; never
    overwrite one. Returns the files copied."""
    root = Path(root)
    work = Path(work) if work is not None else root / WORK
    copied = []
    for lesson in _lessons(root):
        src = _released(root) / lesson
        for rel in _files(src):
            dest = work / lesson / rel
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest)
            copied.append(dest)
    return copied


def aside_name(path: Path, stamp: str) -> Path:
    """``NN-topic.ipynb`` -> ``NN-topic.before-<stamp>.ipynb`` (same folder)."""
    return path.with_name(f"{path.stem}.before-{stamp}{path.suffix}")


def fresh(lesson: str, root: Path = ROOT, work: Path | None = None) -> list[tuple[Path, Path | None]]:
    """A clean copy of ``lesson`` in ``work``: each of its files already there is first renamed
    aside (``<name>.before-<date-time><ext>``). Returns (fresh file, where the old one went or
    None)."""
    root = Path(root)
    work = Path(work) if work is not None else root / WORK
    known = _lessons(root)
    if lesson not in known:
        raise ValueError(f"unknown lesson {lesson!r}; the lessons are: {', '.join(known)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    src = _released(root) / lesson
    out = []
    for rel in _files(src):
        dest = work / lesson / rel
        moved = None
        if dest.exists():
            moved = aside_name(dest, stamp)
            n = 1
            while moved.exists():  # two fresh copies within one second
                moved = aside_name(dest, f"{stamp}-{n}")
                n += 1
            dest.rename(moved)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest)
        out.append((dest, moved))
    return out
