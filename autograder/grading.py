"""Grading a class: every submission of a folder graded (on Dask, see classroom.py), into grades.csv.

The other jobs live in their own modules and are re-exported here for compatibility: building and
validating lessons (release.py), one submission (submission.py), the self-check (selfcheck.py),
warming the model cache (model_cache.py).
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .course import ROOT
from .model_cache import warm_model_cache
from .release import LessonCheck, build, validate
from .selfcheck import format_scores, selfcheck
from .submission import (GradingOptions, SubmissionResult, find_submissions, grade_cell_changes,
                         grade_submission, readable)

__all__ = ["build", "validate", "LessonCheck", "grade_folder", "SubmissionResult", "selfcheck",
           "format_scores", "find_submissions", "grade_cell_changes", "default_workers",
           "write_csv", "GradingOptions", "grade_submission"]

_readable = readable  # old name
_warm_model_cache = warm_model_cache  # old name
_grade_one = grade_submission  # old name


def _remove_class_tmp(class_tmp: str, saved_tmpdir: str | None) -> None:
    from .course import _make_writable_and_retry

    if saved_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_tmpdir
    for ws in Path(class_tmp).rglob("mc-grade-*"):
        # A workspace's pids cgroup (sandbox.PidsLimit) is named after it.
        for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            try:
                (base / f"mc-grade-{ws.name}").rmdir()
            except OSError:
                pass
    shutil.rmtree(class_tmp, onerror=_make_writable_and_retry)


def default_workers() -> int:
    """Worker processes for ``grade``: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def grade_folder(submissions: Path, out: Path, lessons=None, root: Path = ROOT,
                 feedback: bool = True, *, workers: int = 1, submission_timeout: float = 600.0,
                 cell_timeout: float | None = None, memory_mb: int | None = 4096,
                 sandbox: bool | None = None, progress: bool = False, cpu_seconds: int | None = 1800,
                 pids: int | None = 256, output_kb: int | None = 1000,
                 notebook_output_kb: int | None = 5000, disk_mb: int = 512,
                 scheduler: str | None = None) -> list[SubmissionResult]:
    """Autograde every submission in ``submissions`` into ``out/grades.csv`` and (optionally)
    ``out/feedback/<student>/<lesson>/<lesson>.html``.

    Each submission is graded on its own, in a kernel that is sandboxed where bubblewrap works
    (``sandbox``), limited in memory (``memory_mb``), time per cell (``cell_timeout``, default the
    course's 120 s), time in all (``submission_timeout``), CPU time (``cpu_seconds``), processes
    and threads (``pids``), output (``output_kb`` per cell, ``notebook_output_kb`` per notebook)
    and disk (``disk_mb``), and guarded against tampering; flagged submissions score 0 with the
    reasons in their status. Grading runs on Dask (classroom.py): ``workers`` local worker
    processes, each with its own workspace and gradebook, or the workers of a running cluster at
    ``scheduler``; the CSV is the same either way, and a run interrupted and started again grades
    only what is missing. ``progress`` shows a progress bar on stderr.
    """
    from .classroom import grade_class

    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    opts = GradingOptions(feedback, submission_timeout, cell_timeout, memory_mb, sandbox,
                          cpu_seconds, pids, output_kb, notebook_output_kb, disk_mb)
    # SIGTERM ends grading like Ctrl-C: the cluster, the workers' kernels, nbgrader and the
    # temporary folders are removed on the way out. Handlers can be set from the main thread only.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    if main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    saved_tmpdir, class_tmp = os.environ.get("TMPDIR"), None
    if scheduler is None:
        # The local workers' workspaces are made inside one folder of ours (through TMPDIR, which
        # the worker processes read when they start), removed below even when a worker never ran
        # its clean-up (killed, crashed).
        class_tmp = tempfile.mkdtemp(prefix="mc-class-")
        os.environ["TMPDIR"] = class_tmp
    import contextlib

    import dask

    # Dask's own scratch files go there too.
    scratch = (dask.config.set({"temporary-directory": class_tmp}) if class_tmp
               else contextlib.nullcontext())
    try:
        with scratch:
            return grade_class(submissions, out, lessons, root, opts=opts, workers=workers,
                               scheduler=scheduler, progress=progress).results
    finally:
        if class_tmp is not None:
            _remove_class_tmp(class_tmp, saved_tmpdir)
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def write_csv(results, path: Path) -> None:
    """One row per (student, lesson): totals, status, then one column per graded cell."""
    cell_ids = list(dict.fromkeys(f"{r.lesson}:{c.grade_id}" for r in results for c in r.cells))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "lesson", "score", "max_score", "needs_manual_grading", "status",
                    "score_before_flag", "sandbox", *cell_ids])
        for r in sorted(results, key=lambda r: (r.student, r.lesson)):
            by = {f"{r.lesson}:{c.grade_id}": c.score for c in r.cells}
            w.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}",
                        "yes" if r.needs_manual else "no", r.status,
                        "" if r.raw_score is None else f"{r.raw_score:g}", r.sandbox,
                        *[f"{by[k]:g}" if k in by else "" for k in cell_ids]])
