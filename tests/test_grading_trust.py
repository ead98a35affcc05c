"""Grading people can trust: tampering gains nothing and is flagged, bad submissions are graded with
a reason and without hanging, grading is deterministic, and parallel grading writes the same CSV as
serial grading. Uses the tiny synthetic lesson of tiny_lesson.py, not the real lessons."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import grading
from autograder.course import Workspace
from autograder.guard import completed_cells, findings, record_mac, source_hash
from autograder.sandbox import bwrap_argv, bwrap_path, sandbox_works, set_limits
from tiny_lesson import HIDDEN_MARKER, LESSON, MAX_SCORE, make_course, release, write_submission

SANDBOX = sandbox_works(bwrap_path())

# ---------------------------------------------------------------------------------------------
# Fast unit tests (no nbgrader)


def _log(tmp_path, *records):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_findings_reads_tampering_and_missing_heartbeats(tmp_path):
    start = {"kind": "start", "pid": 1, "guarded": 10}
    clean = _log(tmp_path, start, *({"kind": "cell", "n": n} for n in (1, 2, 3)))
    assert findings(clean, [1, 2, 3]) == []
    # The last executed cell may lack a heartbeat (a kernel that died in it writes none).
    assert findings(_log(tmp_path, start, {"kind": "cell", "n": 1}, {"kind": "cell", "n": 2}),
                    [1, 2, 3]) == []
    gap = findings(_log(tmp_path, start, {"kind": "cell", "n": 1}), [1, 2, 3])
    assert gap and "switched off" in gap[0] and "cell 2" in gap[0]
    tampered = findings(_log(tmp_path, start, {"kind": "tamper", "reason": "torch.allclose was replaced"},
                             {"kind": "cell", "n": 1}), [1])
    assert tampered == ["torch.allclose was replaced"]
    (tmp_path / "forged.jsonl").write_text("not json\n")
    assert "altered" in findings(tmp_path / "forged.jsonl", [1])[0]
    assert "did not start" in findings(tmp_path / "missing.jsonl", [1])[0]
    assert findings(tmp_path / "missing.jsonl", []) == []
    with pytest.raises(TypeError):
        findings(clean, ["1"])
    # With the run's key, records the guard did not write are not believed.
    key = b"k" * 32
    signed = [dict(r, mac=record_mac(key, r)) for r in (start, {"kind": "cell", "n": 1, "h": "x", "ok": True})]
    forged = {"kind": "cell", "n": 2, "h": "y", "ok": True, "mac": "0" * 64}
    path = _log(tmp_path, *signed, forged)
    assert findings(path, [1], key) == ["the grading guard's log was altered"]
    assert completed_cells(path, key) == {(1, "x")}
    with pytest.raises(TypeError):
        source_hash(None)
    assert source_hash(" x = 1\n") == source_hash("x = 1")


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    for cid, source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cid
        if meta:
            cell.metadata["nbgrader"] = {"grade_id": cid, "schema_version": 3, "task": False, **meta}
        nb.cells.append(cell)
    return nb


def test_grade_cell_changes_finds_deleted_edited_and_unlocked_test_cells():
    test_meta = {"grade": True, "locked": True, "solution": False, "points": 1}
    released = _notebook([("answer", "x = 1", {"solution": True, "grade": False, "locked": False}),
                          ("t1", "assert x == 1", test_meta), ("t2", "assert x > 0", test_meta),
                          ("t3", "assert x < 2", test_meta)])
    assert grading.grade_cell_changes(released, released) == []
    instructor = _notebook([("answer", "x = 1", {"solution": True, "grade": False, "locked": False}),
                            ("t1", "assert x == 1\nassert x != 2  # hidden", test_meta),
                            ("t2", "assert x > 0", test_meta), ("t3", "assert x < 2", test_meta)])
    # The instructor's own notebook (hidden tests included) is not a tampered one...
    assert grading.grade_cell_changes(instructor, released, source=instructor) == []
    # ...but without knowing the source its longer test cell is an edit.
    assert grading.grade_cell_changes(instructor, released) == ["test cell t1 edited"]
    submitted = _notebook([("answer", "x = 5", {"solution": True, "grade": False, "locked": False}),
                           ("t1", "pass", test_meta),
                           ("t3", "assert x < 2", {"grade": False, "locked": False, "solution": False})])
    assert grading.grade_cell_changes(submitted, released) == [
        "test cell t1 edited", "test cell t2 deleted", "test cell t3 unlocked or turned into another kind of cell"]


def test_sandbox_command_line_hides_the_course_and_cuts_the_network(tmp_path):
    config = {"ro": ["/usr"], "rw": [str(tmp_path / "rw")], "hide": ["/usr/share"], "tmp_mb": 64,
              "env": {"A": "1"}}
    (tmp_path / "rw").mkdir()
    argv = bwrap_argv("/usr/bin/bwrap", config, str(tmp_path), ["python", "-V"])
    assert "--unshare-net" in argv and "--unshare-pid" in argv and "--die-with-parent" in argv
    assert argv[-3:] == ["--", "python", "-V"]
    # the hidden folder inside a bound one is covered by an empty tmpfs
    assert ["--tmpfs", "/usr/share"] == argv[argv.index("/usr/share") - 1: argv.index("/usr/share") + 1]
    assert ["--bind", str(tmp_path), str(tmp_path)] == argv[argv.index(str(tmp_path)) - 1:
                                                            argv.index(str(tmp_path)) + 2]
    with pytest.raises(ValueError):
        bwrap_argv("/usr/bin/bwrap", {"ro": "/usr"}, str(tmp_path), ["true"])


@pytest.mark.skipif(not SANDBOX, reason="bubblewrap is not available or cannot create namespaces here")
def test_sandbox_cannot_read_hidden_files_or_use_the_network(tmp_path):
    secret_dir = tmp_path / "course" / "solutions"
    secret_dir.mkdir(parents=True)
    (secret_dir / "answer.txt").write_text("42")
    own = tmp_path / "course" / "work"
    own.mkdir()
    config = {"ro": [sys.prefix, sys.base_prefix, str(tmp_path / "course")], "rw": [],
              "hide": [str(secret_dir)]}
    probe = ("import os, socket\n"
             f"print('secret', os.listdir({str(secret_dir)!r}))\n"
             "s = socket.socket()\n"
             "s.settimeout(3)\n"
             "try:\n"
             "    s.connect(('1.1.1.1', 53)); print('net yes')\n"
             "except OSError as e:\n"
             "    print('net no')\n"
             "open('mine.txt', 'w').write('ok'); print('write ok')\n")
    argv = bwrap_argv(bwrap_path(), config, str(own), [sys.executable, "-c", probe])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "secret []" in proc.stdout and "net no" in proc.stdout and "write ok" in proc.stdout
    assert (own / "mine.txt").read_text() == "ok"


def test_memory_limit_turns_runaway_allocation_into_memory_error():
    code = ("from autograder.sandbox import set_limits\n"
            "set_limits(512, None, None)\n"
            "hog = []\n"
            "try:\n"
            "    while True: hog.append(bytearray(50_000_000))\n"
            "except MemoryError:\n"
            "    print('MemoryError after', len(hog))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert "MemoryError after" in proc.stdout, proc.stderr
    assert int(proc.stdout.split()[-1]) < 12  # 512 MiB hold at most ~10 chunks of 50 MB
    with pytest.raises(ValueError):
        set_limits(-1, None, None)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        grading.grade_folder(tmp_path, tmp_path / "out", root=make_course(tmp_path / "c"), workers=0)
    with pytest.raises(ValueError, match="submission_timeout"):
        grading.grade_folder(tmp_path, tmp_path / "out", root=tmp_path / "c", submission_timeout=0)
    with pytest.raises(ValueError, match="memory_mb"):
        grading.grade_folder(tmp_path, tmp_path / "out", root=tmp_path / "c", memory_mb=10)
    with pytest.raises(ValueError, match="cell_timeout"):
        Workspace(tmp_path / "c", path=tmp_path / "ws", cell_timeout=-1)


# ---------------------------------------------------------------------------------------------
# Through nbgrader: one class of tiny submissions graded in parallel, a subset serially.

TAMPERING = {  # variant -> words the status must contain
    "patch-allclose": "torch.allclose was replaced",
    "patch-check": "check_close",
    "patch-code": "code of mclib.check.check_close was changed",
    "redefine-helper": "test helper 'check_close' was redefined",
    "patch-builtin": "builtins.isinstance was replaced",
    "patch-tensor": "torch.Tensor.any was added",
    "unhook": "grading guard was switched off",
    "read-solutions": "tried to read <grading folder>/solutions",
    "edit-grade-cell": "test cell test-mean-rows edited",
    "delete-grade-cell": "test cell test-mean-rows deleted",
}
BAD = {  # variant -> (status contains, score)
    "raises": ("double: ValueError: I give up", 3.0),
    "infinite-loop": ("double: stopped: ran longer than the time limit", 3.0),
    "memory-hog": ("double: ran out of memory", 3.0),
    "delete-cells": ("cells deleted: setup, mean-rows", 0.0),
    "invalid-json": ("invalid notebook", 0.0),
    "unstoppable": ("not graded: a cell kept running after it was interrupted", 0.0),
}
SUBSET = ["solved", "partly-wrong", "random", "patch-allclose"]
OPTIONS = dict(feedback=True, cell_timeout=10, memory_mb=2048, submission_timeout=240)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("trust")
    root = make_course(base / "course")
    released = release(root, base / "released.ipynb")
    subs = base / "class"
    students = {"solved": "solved", "blank": "blank", "partly-wrong": "partly-wrong",
                "hidden-fail": "hidden-fail", **{v: v for v in TAMPERING}, **{v: v for v in BAD},
                "random": "random", "random-2": "random", "random-3": "random"}
    for student, variant in students.items():
        write_submission(subs, student, variant, released)
    (subs / "renamed" / LESSON).mkdir(parents=True)
    (subs / "renamed" / LESSON / "my-copy.ipynb").write_text("{}")
    par = grading.grade_folder(subs, base / "parallel", root=root, workers=2, **OPTIONS)
    small = base / "small"
    for student in SUBSET:
        write_submission(small, student, student, released)
    ser = grading.grade_folder(small, base / "serial", root=root, workers=1, **OPTIONS)
    return dict(base=base, parallel={r.student: r for r in par}, serial={r.student: r for r in ser},
                par_csv=base / "parallel" / "grades.csv", ser_csv=base / "serial" / "grades.csv")


@pytest.mark.notebooks
def test_correct_blank_and_partial_submissions(graded_class):
    r = graded_class["parallel"]
    assert r["solved"].score == MAX_SCORE and r["solved"].status == "graded"
    assert r["blank"].score == 0 and r["blank"].max_score == MAX_SCORE
    assert r["partly-wrong"].score == 2 and not r["partly-wrong"].flagged


@pytest.mark.notebooks
@pytest.mark.parametrize("variant", sorted(TAMPERING))
def test_tampering_gains_nothing_and_is_flagged(graded_class, variant):
    r = graded_class["parallel"][variant]
    assert r.status.startswith("flagged: ") and TAMPERING[variant] in r.status, r.status
    assert r.score == 0 and all(c.score == 0 for c in r.cells)
    assert r.raw_score is not None and r.max_score == MAX_SCORE
    row = {x["student_id"]: x for x in csv.DictReader(open(graded_class["par_csv"]))}[variant]
    assert row["score"] == "0" and row["status"].startswith("flagged") and row["score_before_flag"] != ""


@pytest.mark.notebooks
def test_switching_the_guard_off_pays_nothing_even_before_the_flag(graded_class):
    # Test cells earn points only with the guard's authenticated record that their code ran
    # (verdicts.py): a submission that removes the guard's hooks scores 0 even before the flag.
    r = graded_class["parallel"]
    assert r["unhook"].raw_score == 0
    assert r["read-solutions"].raw_score is not None


@pytest.mark.notebooks
@pytest.mark.parametrize("variant", sorted(BAD))
def test_bad_submissions_are_graded_with_a_reason(graded_class, variant):
    words, score = BAD[variant]
    r = graded_class["parallel"][variant]
    assert words in r.status, r.status
    assert r.score == score and not r.flagged
    assert r.max_score == MAX_SCORE  # the maximum is known even for an ungradable notebook


@pytest.mark.notebooks
def test_whole_submission_time_limit_stops_a_hung_kernel(tmp_path):
    root = make_course(tmp_path / "course")
    released = release(root, tmp_path / "released.ipynb")
    write_submission(tmp_path / "class", "stubborn", "infinite-loop", released)
    write_submission(tmp_path / "class", "zz-after", "solved", released)
    start = time.perf_counter()
    # The time limit per cell (100 s) is longer than the whole submission's (45 s).
    results = {r.student: r for r in grading.grade_folder(
        tmp_path / "class", tmp_path / "out", root=root, feedback=False, cell_timeout=100,
        submission_timeout=45)}
    assert results["stubborn"].status == "not graded: stopped after 45 s (whole-submission time limit, --timeout)"
    assert results["stubborn"].score == 0 and results["stubborn"].max_score == MAX_SCORE
    assert results["zz-after"].score == MAX_SCORE  # the next student is graded as usual
    assert time.perf_counter() - start < 240


@pytest.mark.notebooks
def test_missing_notebook_has_a_reason(graded_class):
    r = graded_class["parallel"]["renamed"]
    assert r.status.startswith("missing notebook") and "my-copy.ipynb" in r.status and r.score == 0


@pytest.mark.notebooks
def test_feedback_shows_hidden_failure_message_but_no_hidden_source(graded_class):
    r = graded_class["parallel"]["hidden-fail"]
    assert r.score == 2
    html = (graded_class["base"] / "parallel" / "feedback" / "hidden-fail" / LESSON /
            f"{LESSON}.html").read_text()
    assert "mean_rows of a random 2x7 tensor" in html  # the message a learner can act on
    for leak in (HIDDEN_MARKER, "BEGIN HIDDEN TESTS", "_u.sum(1) / 7", "torch.rand(2, 7)"):
        assert leak not in html, leak


@pytest.mark.notebooks
def test_grading_is_deterministic(graded_class):
    # The same notebook three times in one class (graded by different workers) and once more alone.
    runs = [graded_class["parallel"][s] for s in ("random", "random-2", "random-3")]
    runs.append(graded_class["serial"]["random"])
    scores = [[(c.grade_id, c.score) for c in r.cells] for r in runs]
    assert all(s == scores[0] for s in scores), scores


@pytest.mark.notebooks
def test_parallel_csv_equals_serial_csv(graded_class):
    serial = graded_class["ser_csv"].read_text().splitlines()
    parallel = graded_class["par_csv"].read_text().splitlines()
    assert serial[0] == parallel[0]
    rows = [line for line in parallel[1:] if line.split(",")[0] in SUBSET]
    assert serial[1:] == rows
    assert len(serial) == len(SUBSET) + 1


def test_selfcheck_table_shows_flags_to_the_learner():
    from autograder.course import CellScore
    from autograder.selfcheck import SelfCheckRows, format_scores

    rows = SelfCheckRows([(CellScore("test-a", 1.0, 1.0, True), "passed")],
                         ["policy: cell a line 1: uses get_ipython (reaches the notebook's machinery)"])
    text = format_scores("99-tiny", rows)
    assert "Flagged" in text and "uses get_ipython" in text
    assert "Flagged" not in format_scores("99-tiny", [(CellScore("test-a", 1.0, 1.0, True), "passed")])


@pytest.mark.slow
@pytest.mark.notebooks
def test_sigterm_leaves_no_kernel_process_or_folder(tmp_path):
    import os
    import signal

    root = make_course(tmp_path / "course")
    released = release(root, tmp_path / "released.ipynb")
    write_submission(tmp_path / "class", "stubborn", "infinite-loop", released)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(private_tmp))
    code = ("import sys; from pathlib import Path; from autograder import grading\n"
            f"grading.grade_folder(Path({str(tmp_path / 'class')!r}), Path({str(tmp_path / 'out')!r}), "
            f"root=Path({str(root)!r}), cell_timeout=100, submission_timeout=200, feedback=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=Path(__file__).resolve().parent.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    # Wait until the submission's kernel runs, then stop grading as a scheduler would.
    while time.time() < deadline and not list(private_tmp.glob("**/mc-grade-*/autograded/stubborn")):
        time.sleep(1)
    time.sleep(5)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    time.sleep(2)
    def cmdline(p):
        try:
            return (p / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""

    left = [cmdline(p) for p in Path("/proc").iterdir() if p.name.isdigit()
            and str(private_tmp) in cmdline(p)]
    assert left == [], left
    assert list(private_tmp.iterdir()) == [], list(private_tmp.iterdir())


def test_cpu_time_limit_stops_a_busy_process():
    code = ("from autograder.sandbox import set_limits\n"
            "set_limits(None, 1, None)\n"
            "while True:\n    pass\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode != 0  # SIGXCPU at 1 s of CPU time
    assert time.perf_counter() - start < 100


def test_process_limit_refuses_the_next_process():
    """With a small limit, starting processes in a loop fails in the submission's own code: through
    a pids cgroup when the grader may create one, else RLIMIT_NPROC (not for root)."""
    import os

    from autograder.sandbox import PidsLimit

    limit = PidsLimit(f"mc-test-{os.getpid()}", 8)
    if limit.path is None and os.getuid() == 0:
        pytest.skip("root without a writable pids cgroup: no process limit here (README says so)")
    join = (f"open({str(limit.path / 'cgroup.procs')!r}, 'w').write(str(__import__('os').getpid()))\n"
            if limit.path else "from autograder.sandbox import set_limits; set_limits(None, None, None, 8)\n")
    code = join + ("import subprocess\nps = []\ntry:\n    for _ in range(40):\n"
                   "        ps.append(subprocess.Popen(['sleep', '5']))\n"
                   "except OSError as e:\n    print('refused after', len(ps))\n"
                   "for p in ps:\n    p.kill()\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parent.parent)
        assert "refused after" in proc.stdout, proc.stdout + proc.stderr
        assert int(proc.stdout.split()[-1]) < 8
        if limit.path:
            assert limit.hits() > 0
    finally:
        limit.close()


def test_grade_refuses_to_run_unsandboxed_unless_told(tmp_path):
    import os

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, MCLIB_SANDBOX="off")  # as on a machine without bubblewrap
    (tmp_path / "subs").mkdir()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"),
                           "--out", str(tmp_path / "out"), "--no-progress"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--sandbox off" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
