"""A class graded on a real Dask cluster on the loopback interface: a `dask scheduler` and two
`dask worker` processes started from their command lines, grading submissions of two real lessons
through `python -m autograder grade --scheduler`. The grades equal a serial run's byte for byte,
killing a worker mid-run loses nothing, and a run interrupted and started again grades only what
is missing (the tiny lesson, to keep that one cheap)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.course import ROOT, notebook_path
from autograder.notebooks import read_notebook, write_notebook

#: The two real lessons cheapest to grade (benchmarks/grading_throughput.py measures them).
LESSONS = ["00-measuring", "05-low-rank"]
BIN = Path(sys.executable).parent


def _env():
    env = dict(os.environ)
    # Workers need the course's packages importable, nothing else of the repository.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def _start(argv, log: Path, cwd: Path):
    return subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=cwd,
                            env=_env(), start_new_session=True, stdin=subprocess.DEVNULL)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _partial(lesson):
    """The student version with the first exercise answered and the others left blank."""
    released = read_notebook(notebook_path(lesson, "lessons"))
    solution = {c.get("id"): c for c in read_notebook(notebook_path(lesson)).cells}
    for cell in released.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = solution[cell.id].source
            break
    return released


def _class(folder: Path, students: int = 6) -> int:
    variants = {"full": lambda l: read_notebook(notebook_path(l)),
                "blank": lambda l: read_notebook(notebook_path(l, "lessons")), "partial": _partial}
    n = 0
    for i in range(students):
        kind = list(variants)[i % 3]
        for lesson in LESSONS:
            write_notebook(variants[kind](lesson), folder / f"s{i:02d}-{kind}" / lesson / f"{lesson}.ipynb")
            n += 1
    return n


def _journal_lines(out: Path) -> int:
    path = out / "journal.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _grade_cli(subs, out, *extra):
    return [str(BIN / "python"), "-m", "autograder", "grade", str(subs), "--out", str(out),
            *[a for l in LESSONS for a in ("--lesson", l)], "--no-progress", "--no-gradebook",
            "--cell-timeout", "240", *extra]


@pytest.mark.slow
@pytest.mark.notebooks
def test_a_real_cluster_grades_like_a_serial_run_and_survives_a_dead_worker(tmp_path):
    subs = tmp_path / "class"
    n = _class(subs)
    assert n >= 12
    sched_file = tmp_path / "scheduler.json"
    procs = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)], tmp_path / "sched.log", tmp_path)]
    try:
        deadline = time.time() + 120
        while not sched_file.is_file() and time.time() < deadline:
            time.sleep(0.5)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("w1", "w2"):
            wdir = tmp_path / name
            wdir.mkdir()
            procs.append(_start([str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file),
                                 "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                                 "--memory-limit", "0", "--no-dashboard", "--name", name,
                                 "--local-directory", str(wdir)], tmp_path / f"{name}.log", wdir))
        out = tmp_path / "cluster"
        grade = _start(_grade_cli(subs, out, "--scheduler", address), tmp_path / "grade.log", tmp_path)
        # Kill one worker (its nanny too) as soon as the first results are in.
        deadline = time.time() + 1800
        while _journal_lines(out) < 2 and grade.poll() is None and time.time() < deadline:
            time.sleep(1)
        assert grade.poll() is None, (tmp_path / "grade.log").read_text()[-3000:]
        _stop(procs[1])
        assert grade.wait(timeout=2400) == 0, (tmp_path / "grade.log").read_text()[-3000:]
    finally:
        for p in procs:
            _stop(p)
    log = (tmp_path / "grade.log").read_text()
    assert f"graded {n} submission(s) now, 0 from an earlier run (journal), 0 failed" in log, log[-3000:]
    serial = tmp_path / "serial"
    proc = subprocess.run(_grade_cli(subs, serial, "--workers", "1"), capture_output=True, text=True,
                          env=_env(), cwd=tmp_path, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()
    rows = list(csv.DictReader(open(serial / "grades.csv")))
    auto_max = {l: sum(c.metadata["nbgrader"]["points"] for c in read_notebook(notebook_path(l)).cells
                       if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                       and c.cell_type == "code") for l in LESSONS}
    full = [r for r in rows if r["student_id"].endswith("-full")]
    assert len(full) == 4 and all(float(r["score"]) == auto_max[r["lesson"]] and
                                  r["status"] == "graded" for r in full)  # solutions: full marks
    assert all(r["score"] == "0" for r in rows if r["student_id"].endswith("-blank"))


RESUME_SCRIPT = """
import sys
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from autograder.classroom import grade_class
from autograder.grading import GradingOptions
run = grade_class(Path({subs!r}), Path({out!r}), root=Path({course!r}), workers={workers},
                  opts=GradingOptions(feedback=False, cell_timeout=30))
print("graded_now", run.graded_now, "reused", run.reused)
"""


@pytest.mark.slow
@pytest.mark.notebooks
def test_an_interrupted_run_resumed_grades_only_what_is_missing(tmp_path):
    from tiny_lesson import make_course, release, write_submission

    course = make_course(tmp_path / "course")
    released = release(course, tmp_path / "released.ipynb")
    variants = ["solved", "blank", "partly-wrong", "hidden-fail", "random", "raises"]
    for i in range(12):
        write_submission(tmp_path / "class", f"s{i:02d}", variants[i % len(variants)], released)

    def script(out, workers=2):
        return [sys.executable, "-c", RESUME_SCRIPT.format(
            root=str(ROOT), tests=str(ROOT / "tests"), subs=str(tmp_path / "class"),
            out=str(out), course=str(course), workers=workers)]

    out = tmp_path / "out"
    first = _start(script(out), tmp_path / "first.log", tmp_path)
    deadline = time.time() + 1200
    while _journal_lines(out) < 3 and first.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    _stop(first)  # interrupted: the coordinator and its local cluster are killed
    done = _journal_lines(out)
    assert 3 <= done < 12, (tmp_path / "first.log").read_text()[-2000:]
    again = subprocess.run(script(out), capture_output=True, text=True, env=_env(), timeout=1800)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"graded_now {12 - done} reused {done}" in again.stdout
    serial = tmp_path / "serial"
    subprocess.run(script(serial, workers=1), check=True, capture_output=True, env=_env(), timeout=1800)
    assert (out / "grades.csv").read_bytes() == (serial / "grades.csv").read_bytes()
