"""autograder.forkrun: nbgrader commands forked from a warm server behave like fresh processes
(folder, environment, exit codes, output), and a timeout kills the command with everything it
started. The commands are `nbgrader db student list`, whose course config (nbgrader_config.py in the
working folder, executed by nbgrader) does what each test needs."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder import forkrun

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork servers need POSIX")

LIST = ["db", "student", "list"]


@pytest.fixture(scope="module")
def launcher():
    lau = forkrun.Launcher()
    yield lau
    lau.close()


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MC_TEST_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def _course(tmp_path, config: str) -> Path:
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text(config)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its parent counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_a_command_runs_in_its_folder_with_its_environment(launcher, tmp_path):
    extra = tmp_path / "on-pythonpath"
    extra.mkdir()
    report = tmp_path / "report.json"
    folder = _course(tmp_path, f"""
import json, os, sys
json.dump({{"cwd": os.getcwd(), "var": os.environ.get("MC_TEST_VAR"), "path": sys.path,
           "argv": sys.argv}}, open({str(report)!r}, "w"))
""")
    env = _env(tmp_path, MC_TEST_VAR="first", PYTHONPATH=str(extra))
    code, output = launcher.run(LIST, folder, env, tmp_path / "out.log", timeout=120)
    assert code == 0, output
    seen = json.loads(report.read_text())
    assert seen["cwd"] == str(folder) and seen["var"] == "first"
    assert str(extra) in seen["path"] and seen["argv"][1:] == LIST
    # The next command sees its own environment, not the first one's.
    env["MC_TEST_VAR"] = "second"
    assert launcher.run(LIST, folder, env, tmp_path / "out.log", timeout=120)[0] == 0
    assert json.loads(report.read_text())["var"] == "second"
    assert "MC_TEST_VAR" not in os.environ


def test_exit_codes_and_the_tail_of_the_output(launcher, tmp_path):
    folder = _course(tmp_path, "print('x' * 20000)\nraise SystemExit(3)\n")
    code, output = launcher.run(LIST, folder, _env(tmp_path), tmp_path / "out.log", timeout=120)
    assert code == 3 and len(output) == 6000 and output.strip().endswith("x")
    (tmp_path / "killed").mkdir()
    folder = _course(tmp_path / "killed", "import os, signal\nprint('going', flush=True)\n"
                                          "os.kill(os.getpid(), signal.SIGKILL)\n")
    code, output = launcher.run(LIST, folder, _env(tmp_path), tmp_path / "o2.log", timeout=120)
    assert code == -9 and output.strip() == "going"


def test_a_timeout_kills_the_command_and_what_it_started(launcher, tmp_path):
    pids = tmp_path / "pids.json"
    folder = _course(tmp_path, f"""
import json, os, subprocess, time
child = subprocess.Popen(["sleep", "300"])
json.dump([os.getpid(), child.pid], open({str(pids)!r}, "w"))
time.sleep(300)
""")
    start = time.monotonic()
    code, _ = launcher.run(LIST, folder, _env(tmp_path), tmp_path / "out.log", timeout=8)
    assert code is None and time.monotonic() - start < 60
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in json.loads(pids.read_text())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in json.loads(pids.read_text()))
    # The server survives a timeout and runs the next command.
    (tmp_path / "next").mkdir()
    assert launcher.run(LIST, _course(tmp_path / "next", ""), _env(tmp_path), tmp_path / "out.log", timeout=120)[0] == 0


def test_an_interrupted_run_kills_the_command_and_the_server(tmp_path):
    import signal

    lau = forkrun.Launcher()
    pids = tmp_path / "pid"
    folder = _course(tmp_path, f"import os, time\nopen({str(pids)!r}, 'w').write(str(os.getpid()))\n"
                               "time.sleep(300)\n")

    def interrupt(*_):
        raise KeyboardInterrupt

    def when_running():  # Ctrl-C once the command runs (the server may still be importing)
        while not pids.is_file() or not pids.read_text():
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGALRM)

    old = signal.signal(signal.SIGALRM, interrupt)
    threading.Thread(target=when_running, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lau.run(LIST, folder, _env(tmp_path), tmp_path / "out.log", timeout=None)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert lau._proc is None
    deadline = time.monotonic() + 10
    while _alive(int(pids.read_text())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(int(pids.read_text()))
    lau.close()


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("MCLIB_NBGRADER_FORK", "0")
    assert not forkrun.available()
    monkeypatch.delenv("MCLIB_NBGRADER_FORK")
    assert forkrun.available()


def test_a_new_gradebook_is_stamped_with_the_revision_nbgrader_would_ask_alembic_for(launcher, tmp_path):
    import sqlite3

    from nbgrader.api import get_alembic_version  # nbgrader's own: `alembic heads` in a subprocess

    folder = _course(tmp_path, "c = get_config()\n")
    env = _env(tmp_path)
    code, output = launcher.run(["db", "student", "add", "s1"], folder, env, tmp_path / "out.log", 120)
    assert code == 0, output
    with sqlite3.connect(folder / "gradebook.db") as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    old_path = os.environ["PATH"]
    os.environ["PATH"] = env["PATH"]  # nbgrader finds the alembic command on PATH
    try:
        expected = get_alembic_version()
    finally:
        os.environ["PATH"] = old_path
    assert stamped == [(expected,)] and len(expected) == 12
