"""Grading a class: every submission of a folder graded (in parallel workers), into grades.csv.

The other jobs live in their own modules and are re-exported here for compatibility: building and
validating lessons (release.py), one submission (submission.py), the self-check (selfcheck.py),
warming the model cache (model_cache.py).
"""
from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import signal
import sys
import threading
from pathlib import Path

from .course import ROOT, Workspace, check_lesson, lesson_names
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


# Per worker process: its own Workspace (so its own gradebook: SQLite is not safe for concurrent
# writers), created once by the pool's initializer and reused for every submission it grades.
_WORKER: dict = {}


def _worker_init(root: str, lessons: list[str], hidden: list[str], out: str, opts: GradingOptions):
    from multiprocessing import util

    ws = Workspace(Path(root), lessons=lessons, hidden=[Path(h) for h in hidden],
                   **opts.workspace_kwargs())
    util.Finalize(ws, ws.close, exitpriority=10)  # pool workers skip atexit; this still runs
    # SIGTERM ends a worker like Ctrl-C: the finally clauses stop nbgrader and its kernel and the
    # finaliser removes the workspace.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    for lesson in lessons:
        ws.generate(lesson)
    _WORKER.update(ws=ws, out=Path(out), opts=opts)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _worker_grade(job) -> SubmissionResult:
    student, lesson, nb, problem = job
    try:
        return grade_submission(_WORKER["ws"], student, lesson, nb, problem, _WORKER["out"],
                                _WORKER["opts"])
    except Exception as exc:  # noqa: BLE001 - one submission's failure must not stop the class
        return SubmissionResult(student, lesson, f"grading failed: {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}")


def _remove_class_tmp(class_tmp: str, saved_tmpdir: str | None) -> None:
    import shutil

    from .course import _make_writable_and_retry

    if saved_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_tmpdir
    for ws in Path(class_tmp).glob("mc-grade-*"):
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
                 notebook_output_kb: int | None = 5000, disk_mb: int = 512) -> list[SubmissionResult]:
    """Autograde every submission in ``submissions`` into ``out/grades.csv`` and (optionally)
    ``out/feedback/<student>/<lesson>/<lesson>.html``.

    Each submission is graded on its own, in a kernel that is sandboxed where bubblewrap works
    (``sandbox``), limited in memory (``memory_mb``), time per cell (``cell_timeout``, default the
    course's 120 s), time in all (``submission_timeout``), CPU time (``cpu_seconds``), processes
    and threads (``pids``), output (``output_kb`` per cell, ``notebook_output_kb`` per notebook)
    and disk (``disk_mb``), and guarded against tampering; flagged submissions score 0 with the
    reasons in their status. ``workers`` > 1 grades in that many processes, each with its own
    workspace and gradebook; the CSV is the same as with one. A worker that crashes costs its
    submissions a status row, not the class. ``progress`` shows a progress bar on stderr.
    """
    lessons = [check_lesson(l, root) for l in (lessons or lesson_names(root))]
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    opts = GradingOptions(feedback, submission_timeout, cell_timeout, memory_mb, sandbox,
                          cpu_seconds, pids, output_kb, notebook_output_kb, disk_mb)
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    jobs = find_submissions(submissions, lessons)
    hidden = [str(submissions), str(out)]
    warm_model_cache(lessons, root)
    workers = min(workers, max(1, len(jobs)))
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="grading", unit="submission", file=sys.stderr,
               disable=not progress)
    results = []
    # SIGTERM ends grading like Ctrl-C (kernels, nbgrader and temporary folders are removed on
    # the way out); signal handlers can only be set from the main thread.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    if main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = contextlib.ExitStack()
    try:
        if workers == 1:
            _worker_init(str(root), lessons, hidden, str(out), opts)
            try:
                for job in jobs:
                    results.append(_worker_grade(job))
                    bar.update()
            finally:
                _WORKER.pop("ws").close()
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # The workers' workspaces are made inside one folder of ours (through TMPDIR, which
            # spawned workers read afresh), removed below even when a worker never ran its
            # clean-up (killed, crashed, or skipped by the pool's shutdown).
            class_tmp = tempfile.mkdtemp(prefix="mc-class-")
            saved_tmpdir = os.environ.get("TMPDIR")
            os.environ["TMPDIR"] = class_tmp
            stack.callback(_remove_class_tmp, class_tmp, saved_tmpdir)
            # spawn: a fresh interpreter per worker, nothing inherited from the caller's threads.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_worker_init,
                                     initargs=(str(root), lessons, hidden, str(out), opts)) as pool:
                futures = [pool.submit(_worker_grade, job) for job in jobs]
                try:
                    for fut in as_completed(futures):
                        bar.update()
                except KeyboardInterrupt:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.terminate()  # each worker cleans up on SIGTERM
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                for fut, (student, lesson, _, _) in zip(futures, jobs):
                    try:
                        results.append(fut.result())
                    except Exception as exc:  # noqa: BLE001 - a crashed worker (BrokenProcessPool)
                        results.append(SubmissionResult(
                            student, lesson, f"grading failed: the grading worker crashed "
                            f"({type(exc).__name__})"))
    finally:
        stack.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        bar.close()
    max_by_lesson = {r.lesson: r.max_score for r in results if r.max_score}
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
                    "score_before_flag", "sandbox", *cell_ids])
        for r in sorted(results, key=lambda r: (r.student, r.lesson)):
            by = {f"{r.lesson}:{c.grade_id}": c.score for c in r.cells}
            w.writerow([r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}",
                        "yes" if r.needs_manual else "no", r.status,
                        "" if r.raw_score is None else f"{r.raw_score:g}", r.sandbox,
                        *[f"{by[k]:g}" if k in by else "" for k in cell_ids]])
