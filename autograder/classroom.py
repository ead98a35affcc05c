"""Grading a whole class on Dask (``dask.distributed``): one code path from a laptop to a cluster.

The coordinator (the ``grade`` command) reads the submissions, and sends each one to a Dask worker
as notebook bytes; the worker grades it in its own Workspace and sends the result back as data
(cell scores, status, the feedback HTML and the autograded notebook as bytes). Nothing assumes a
filesystem shared between the coordinator and the workers: the lesson sources travel to every worker
with a worker plugin, and workers only need the course's Python packages (mclib, autograder) and
the trained-model cache of their machine (warmed on first use).

- Default: a ``LocalCluster`` of ``workers`` processes with one thread each; ``scheduler`` (an
  address such as ``tcp://10.0.0.5:8786``) uses a running cluster instead.
- Each worker thread keeps one Workspace, created on its first submission (the generated
  assignments and the workspace gradebook are reused for every submission it grades) and removed
  when the plugin is torn down (end of the run, or the worker closing).
- Resilience is Dask's: a task whose worker dies is rescheduled on another worker, and
  ``retries`` covers errors outside the submission's own grading (a workspace that could not be
  created). A submission that still fails becomes a status row, and is tried again next run.
- Results are appended to ``<out>/journal.jsonl`` as they arrive, keyed by student, lesson, the
  notebook's SHA-256 and the course (lesson sources and grading options): the same command run
  again after an interruption grades only what is missing, and ``grades.csv`` is byte-identical
  to one uninterrupted serial run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distributed import WorkerPlugin

from .course import ROOT, CellScore, check_lesson, lesson_names

__all__ = ["Submission", "ClassRun", "grade_class", "course_files", "course_key", "Journal",
           "GradingPlugin"]

JOURNAL = "journal.jsonl"
_IGNORED = {".ipynb_checkpoints", "__pycache__"}


@dataclass(frozen=True)
class Submission:
    """One student's notebook of one lesson, as it travels to a worker. ``data`` is None when
    there is no notebook to grade (``problem`` says why)."""

    student: str
    lesson: str
    data: bytes | None
    problem: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else ""


def course_files(lessons, root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the lessons' source folders (``solutions/<lesson>/...``) by relative path: what
    a worker needs to generate the assignments, sent as data."""
    files = {}
    for lesson in lessons:
        folder = Path(root) / "solutions" / check_lesson(lesson, root)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not _IGNORED & set(path.relative_to(folder).parts):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def course_key(files: dict[str, bytes], opts) -> str:
    """A hash of what a grade depends on besides the notebook: the lesson sources and the grading
    options. A journal entry of another course key is not reused."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    h.update(json.dumps(asdict(opts), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# Worker side


class GradingPlugin(WorkerPlugin):
    """Carries the lesson sources to every worker (also to workers that join or restart later) and
    owns the worker's Workspaces: one per worker thread, created lazily, closed on teardown."""

    def __init__(self, files: dict[str, bytes], lessons: list[str], opts, key: str,
                 warm_cache: bool, hidden=()):
        self.files, self.lessons, self.opts, self.key = files, list(lessons), opts, key
        self.warm_cache = warm_cache
        # The coordinator's submissions and output folders: on its own machine (a local cluster)
        # grading kernels must not read them; elsewhere these paths simply do not exist.
        self.hidden = [str(h) for h in hidden]
        self.name = f"autograder-{key}"
        self._spaces: dict = {}
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_spaces")
        state.pop("_lock")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._spaces, self._lock = {}, threading.Lock()

    def setup(self, worker=None):
        pass  # lazily: a worker that never gets a submission never builds a workspace

    def teardown(self, worker=None):
        with self._lock:
            spaces, self._spaces = self._spaces, {}
        for ws, base in spaces.values():
            try:
                ws.close()
            finally:
                shutil.rmtree(base, ignore_errors=True)

    def workspace(self):
        """(Workspace, private folder) of the calling thread, created on first use."""
        tid = threading.get_ident()
        with self._lock:
            if tid in self._spaces:
                return self._spaces[tid]
        from .course import Workspace
        from .model_cache import warm_model_cache as _warm_model_cache

        base = Path(tempfile.mkdtemp(prefix="mc-worker-"))
        try:
            root = base / "course"
            for rel, data in self.files.items():
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            # A course root like the repository's: the lesson sources next to the course's
            # packages (this worker's installed ones), which grading kernels import from it.
            # Found, not imported: importing mclib would import torch into the worker for nothing.
            import importlib.util

            mclib_dir = Path(importlib.util.find_spec("mclib").origin).parent
            from . import __file__ as autograder_init
            for name, pkg in (("mclib", mclib_dir), ("autograder", Path(autograder_init).parent)):
                (root / name).symlink_to(pkg, target_is_directory=True)
            (base / "submissions").mkdir()
            (base / "out").mkdir()
            ws = Workspace(root, lessons=self.lessons,
                           hidden=[base / "submissions", base / "out", *self.hidden],
                           **self.opts.workspace_kwargs())
            try:
                if self.warm_cache:  # while the workspace's nbgrader server starts
                    _warm_model_cache(self.lessons, root)
                for lesson in self.lessons:
                    ws.generate(lesson)
            except BaseException:
                ws.close()
                raise
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        with self._lock:
            self._spaces[tid] = (ws, base)
        return ws, base

    def grade(self, sub: Submission) -> dict:
        """Grade ``sub``; every way the submission itself can go wrong ends in a status. Errors of
        the machinery (no workspace) propagate, for Dask to retry elsewhere."""
        from .course import _make_writable_and_retry
        from .submission import SubmissionResult, grade_submission
        from .notebooks import read_notebook
        from .timings import split_seconds

        ws, base = self.workspace()
        nb = base / "submissions" / sub.student / sub.lesson / f"{sub.lesson}.ipynb"
        out = base / "out"
        for stale in (nb.parent, out / "feedback" / sub.student / sub.lesson,
                      ws.autograded_notebook(sub.lesson, sub.student).parent):
            if stale.exists():
                shutil.rmtree(stale, onerror=_make_writable_and_retry)
        nb.parent.mkdir(parents=True)
        nb.write_bytes(sub.data)
        started = time.time()
        try:
            r = grade_submission(ws, sub.student, sub.lesson, nb, sub.problem, out, self.opts)
        except Exception as exc:  # noqa: BLE001 - one submission's failure must not stop the class
            r = SubmissionResult(sub.student, sub.lesson, f"grading failed: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200] if str(exc) else ''}")
        ended = time.time()
        fb = out / "feedback" / sub.student / sub.lesson / f"{sub.lesson}.html"
        graded = ws.autograded_notebook(sub.lesson, sub.student)
        autograded = graded.read_bytes() if graded.is_file() and r.cells else None
        timings = {"total": ended - started}
        if autograded is not None:
            try:
                timings = split_seconds(read_notebook(graded), started, ended)
            except Exception:  # noqa: BLE001 - timings are informative only
                pass
        shutil.rmtree(nb.parent, ignore_errors=True)
        return {**_result_data(r), "sha256": sub.sha256,
                "feedback": fb.read_bytes() if fb.is_file() else None,
                "autograded": autograded, "timings": timings}


def _result_data(r) -> dict:
    return {"student": r.student, "lesson": r.lesson, "status": r.status,
            "cells": [[c.grade_id, c.score, c.max_score, c.auto] for c in r.cells],
            "max_score": r.max_score, "raw_score": r.raw_score, "sandbox": r.sandbox}


def grade_on_worker(sub: Submission, plugin_name: str) -> dict:
    """The Dask task: grade one submission with the worker's plugin."""
    from distributed import get_worker

    return get_worker().plugins[plugin_name].grade(sub)


# ----------------------------------------------------------------------------------------------
# Coordinator side


class Journal:
    """Results as they arrive, one JSON line each, in ``<out>/journal.jsonl``: what a resumed run
    reads back instead of grading again. A line cut short by an interruption is ignored."""

    def __init__(self, path: Path, course: str):
        self.path, self.course = Path(path), course
        self.entries: dict[tuple, dict] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    e = json.loads(line)
                    if e.get("course") == course:
                        self.entries[(e["student"], e["lesson"], e["sha256"])] = e
                except (ValueError, KeyError, TypeError):
                    continue

    def get(self, sub: Submission) -> dict | None:
        return self.entries.get((sub.student, sub.lesson, sub.sha256))

    def add(self, entry: dict) -> None:
        entry = {"course": self.course, **entry}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.entries[(entry["student"], entry["lesson"], entry["sha256"])] = entry


def _from_data(d: dict):
    from .submission import SubmissionResult

    return SubmissionResult(d["student"], d["lesson"], d["status"],
                            [CellScore(g, float(s), float(m), bool(a)) for g, s, m, a in d["cells"]],
                            float(d["max_score"]), None if d["raw_score"] is None else float(d["raw_score"]),
                            d.get("sandbox", ""))


@dataclass
class ClassRun:
    """What ``grade_class`` did: the results (in submission order), how many submissions were
    graded in this run, how many were read back from the journal, and per-submission timings."""

    results: list = field(default_factory=list)
    graded_now: int = 0
    reused: int = 0
    failed: int = 0
    timings: list[dict] = field(default_factory=list)


def _store(out: Path, data: dict) -> dict:
    """Write a worker's files into the output folder; the journal entry (no bytes) to append."""
    entry = {k: v for k, v in data.items() if k not in ("feedback", "autograded")}
    for kind, folder in (("feedback", "feedback"), ("autograded", "autograded")):
        blob = data.get(kind)
        rel = None
        if blob is not None:
            suffix = ".html" if kind == "feedback" else ".ipynb"
            rel = f"{folder}/{data['student']}/{data['lesson']}/{data['lesson']}{suffix}"
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".part")
            tmp.write_bytes(blob)
            os.replace(tmp, dest)
        entry[kind] = rel
    return entry


#: Dask's own monitoring, which grading does not use, turned down on the local cluster: the
#: statistical profiler of the task threads (100 samples a second), the 2 Hz system monitor and the
#: 50 Hz event-loop health check took about 13% of a core on an idle two-worker cluster here, 1.7%
#: with these settings; on a two-core machine that is time the grading kernels lose. The dashboard
#: loses its profile and resource plots. README shows the same settings for workers started by hand.
QUIET_DASK = {"distributed.worker.profile.enabled": False,
              "distributed.admin.system-monitor.interval": "5s",
              "distributed.admin.tick.interval": "1s"}


def _client(scheduler: str | None, workers: int):
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="60s"), None
    # One thread per worker process: one grading kernel at a time each, as many as cores asked.
    # memory_limit=0: the kernels are the workers' children and carry their own memory limit;
    # the nanny must not kill a worker for them.
    # The scheduler's HTTP endpoint on a free loopback port (the default 8787 may be taken).
    # Dask's scratch folder inside the temporary folder grade_folder removes (TMPDIR), not beside it.
    # The workers, spawned by the cluster, start with the configuration set here.
    with dask.config.set(QUIET_DASK):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0", memory_limit=0, host="127.0.0.1",
                               silence_logs=logging.ERROR,
                               local_directory=os.path.join(os.environ.get("TMPDIR") or tempfile.gettempdir(),
                                                            "dask-scratch-space"))
        return Client(cluster), cluster


def grade_class(submissions: Path, out: Path, lessons=None, root: Path = ROOT, *, opts=None,
                workers: int = 1, scheduler: str | None = None, retries: int = 2,
                progress: bool = False) -> ClassRun:
    """Grade every submission of ``submissions`` (layout: see ``grading.find_submissions``) into
    ``out``: ``grades.csv``, ``feedback/``, ``autograded/`` and ``journal.jsonl``. See the module
    docstring for where it runs and how an interrupted run resumes."""
    from .grading import write_csv
    from .submission import GradingOptions, SubmissionResult, find_submissions

    opts = opts or GradingOptions()
    lessons = [check_lesson(l, root) for l in (lessons or lesson_names(root))]
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be an address such as tcp://host:8786, got {scheduler!r}")
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    jobs = find_submissions(submissions, lessons)
    out.mkdir(parents=True, exist_ok=True)
    files = course_files(lessons, root)
    key = course_key(files, opts)
    journal = Journal(out / JOURNAL, key)
    run = ClassRun()
    subs, by_job, todo = [], {}, []
    for student, lesson, nb, problem in jobs:
        sub = Submission(student, lesson, Path(nb).read_bytes() if nb is not None else None, problem)
        subs.append(sub)
        if sub.data is None:
            by_job[id(sub)] = SubmissionResult(student, lesson, problem)
        elif (done := journal.get(sub)) is not None:
            by_job[id(sub)] = _from_data(done)
            run.reused += 1
        else:
            todo.append(sub)
    if todo:
        # Once for this machine (a local cluster), before workers race to train the same models;
        # it runs while the cluster starts, and is waited for before the first submission.
        warming = _start_warming(lessons, root) if scheduler is None else None
        _grade_on_cluster(todo, by_job, run, out, journal, files, lessons, opts, key,
                          workers=min(workers, len(todo)), scheduler=scheduler, retries=retries,
                          progress=progress, hidden=[submissions, out], warming=warming)
    results = [by_job[id(s)] for s in subs]
    max_by_lesson = {r.lesson: r.max_score for r in results if r.max_score}
    for r in results:
        if not r.max_score:
            r.max_score = max_by_lesson.get(r.lesson, 0.0)
    write_csv(results, out / "grades.csv")
    run.results = results
    return run


def _start_warming(lessons, root):
    """``warm_model_cache`` in a thread (its work is a subprocess); join() it, then check
    ``error``."""
    from .model_cache import warm_model_cache

    def warm():
        try:
            warm_model_cache(lessons, root)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            thread.error = exc

    thread = threading.Thread(target=warm, name="warm-model-cache", daemon=True)
    thread.error = None
    thread.start()
    return thread


def _grade_on_cluster(todo, by_job, run, out, journal, files, lessons, opts, key, *, workers,
                      scheduler, retries, progress, hidden, warming=None):
    from distributed import as_completed
    from tqdm import tqdm

    from .submission import SubmissionResult

    client, cluster = _client(scheduler, workers)
    plugin = GradingPlugin(files, lessons, opts, key, warm_cache=scheduler is not None,
                           hidden=hidden)
    bar = tqdm(total=len(todo), desc="grading", unit="submission", file=sys.stderr,
               disable=not progress)
    try:
        if warming is not None:
            warming.join()
            if warming.error is not None:
                raise warming.error
        client.register_plugin(plugin, name=plugin.name)
        futures = {client.submit(grade_on_worker, sub, plugin.name, retries=retries, pure=False,
                                 key=f"grade-{sub.lesson}-{sub.student}-{sub.sha256[:12]}-{key}"): sub
                   for sub in todo}
        for fut in as_completed(list(futures)):
            sub = futures[fut]
            try:
                data = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a task that kept failing
                why = str(exc).splitlines()[0][:200] if str(exc) else ""
                by_job[id(sub)] = SubmissionResult(sub.student, sub.lesson,
                                                   f"grading failed: {type(exc).__name__}: {why}")
                run.failed += 1
            else:
                entry = _store(out, data)
                journal.add(entry)
                by_job[id(sub)] = _from_data(entry)
                run.timings.append({"student": sub.student, "lesson": sub.lesson,
                                    **entry["timings"]})
                run.graded_now += 1
            fut.release()
            bar.update()
    finally:
        bar.close()
        try:
            # Tears the plugin down on every worker: their workspaces are removed.
            client.unregister_worker_plugin(plugin.name)
        except Exception:  # noqa: BLE001 - a cluster going away removes them anyway
            pass
        client.close()
        if cluster is not None:
            cluster.close()

