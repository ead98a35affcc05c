"""nbgrader commands in processes forked from a warm one: the import of nbgrader (about 4 s of
CPU: jupyter_server, nbconvert, SQLAlchemy, ...) is paid once per grading workspace instead of twice
per submission (``autograde``, then ``generate_feedback``).

``Launcher.run(args, cwd, env, output, timeout)`` behaves like running ``python -m nbgrader ARGS``
in ``cwd`` with environment ``env``: each command is a new process, forked from a server that has
imported nbgrader and done nothing else, in the server's process group, so that a timeout or Ctrl-C
kills the group (the server too; it is started again for the next command). Its output goes to the
file ``output``, of which only the tail is ever read. What differs from a fresh interpreter:
``sys.path`` and the hash seed are the server's (it is started with the workspace's environment;
``PYTHONPATH`` of ``env`` is put first on ``sys.path`` in each child).

POSIX only (``fork``); ``Workspace`` runs ``python -m nbgrader`` as a subprocess elsewhere, or when
``MCLIB_NBGRADER_FORK=0``.

The protocol, one JSON line each way: the client sends ``{"args", "cwd", "env", "output"}``; the
server answers ``{"pid": ...}`` once it has forked, then ``{"exit": code}`` (negative: killed by
that signal) when the child has ended. The server exits when its standard input closes.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Launcher", "available", "LauncherError"]

#: Imported once by the server; a module missing here only costs its import in each child.
#: (What a child still imported was listed by comparing sys.modules before and after a command.)
PRELOAD = ["nbgrader.apps", "nbgrader.api", "nbgrader.preprocessors", "nbgrader.converters",
           "nbconvert.exporters", "nbclient", "jupyter_client.manager", "sqlalchemy", "alembic",
           "sqlalchemy.dialects.sqlite", "sqlite3", "IPython", "mistune", "pygments.lexers",
           "ipython_pygments_lexers", "bs4"]


def _warm_up() -> None:
    """Work every command would repeat, done once in the server: SQLAlchemy configures the
    gradebook's mappers on its first query, nbformat compiles its JSON-schema validator on first
    use, the feedback page's first render compiles its jinja templates (kept by
    autograder.feedback) and pygments' and mistune's regular expressions, and a new gradebook's
    revision stamp runs alembic (see ``_stamp_revision_in_process``)."""
    import nbformat
    from sqlalchemy.orm import configure_mappers

    import nbgrader.api  # noqa: F401 - defines the mappers configured below

    configure_mappers()
    nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    from .feedback import warm_templates

    warm_templates()
    _stamp_revision_in_process()


def _stamp_revision_in_process() -> None:
    """nbgrader stamps every new gradebook with the revision of its newest database migration,
    which it asks of the ``alembic heads`` command in a subprocess (``nbgrader.api.
    get_alembic_version``): 3.6 s here, nearly all of it that process importing, once per new
    gradebook (each grading workspace makes one). The server reads the same revision from
    nbgrader's migration scripts in-process (milliseconds) and its children use it. nbgrader has
    one head; with several, nbgrader's own function stays."""
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    heads = ScriptDirectory(ALEMBIC_DIR).get_heads()
    if len(heads) == 1:
        head = heads[0]
        nbgrader.api.get_alembic_version = lambda: head


class LauncherError(RuntimeError):
    """The fork server could not run a command (it failed to start or died)."""


def available() -> bool:
    """Whether nbgrader runs in forked processes here (POSIX, not turned off)."""
    return hasattr(os, "fork") and os.environ.get("MCLIB_NBGRADER_FORK", "1") != "0"


def _child(req: dict) -> int:
    """In the forked child: become nbgrader with the request's folder, environment and argv."""
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(req["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    extra = [p for p in req["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = [p for p in extra if p not in sys.path]
    sys.argv = ["nbgrader", *req["args"]]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        from nbgrader.apps.nbgraderapp import main
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported in the output, like an uncaught error would be
        import traceback
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    return code


def serve() -> None:
    """The server: preload, then fork one child per request line, one at a time."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a child imports what is missing itself
            pass
    try:
        _warm_up()
    except Exception:  # noqa: BLE001 - only a head start
        pass
    answer = os.fdopen(os.dup(1), "w")
    # The children's output goes to files; nothing of the server's own may reach the pipe.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                answer.close()
                code = _child(req)
            finally:
                os._exit(code)
        answer.write(json.dumps({"pid": pid}) + "\n")
        answer.flush()
        _, status = os.waitpid(pid, 0)
        answer.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")
        answer.flush()


class Launcher:
    """One fork server, started on first use with ``env`` and stopped by ``close()``."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._buffer = b""

    def start(self, env: dict) -> subprocess.Popen:
        """Start the server (it imports nbgrader in the background) unless it is running."""
        if self._proc is None or self._proc.poll() is not None:
            self._buffer = b""
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from autograder.forkrun import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, start_new_session=True)
        return self._proc

    def _answer(self, deadline: float | None) -> dict | None:
        """The server's next answer, or None when ``deadline`` passes first."""
        proc = self._proc
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not sel.select(wait):
                    return None
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    self.close()
                    raise LauncherError("the nbgrader fork server ended unexpectedly")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, args, cwd: Path, env: dict, output: Path,
            timeout: float | None = None) -> tuple[int | None, str]:
        """Run ``nbgrader ARGS``; (exit code, or None when stopped at ``timeout``; the last 6,000
        characters of its output). A timeout, or anything raised meanwhile (Ctrl-C), kills it and
        the server."""
        proc = self.start(env)
        request = {"args": list(args), "cwd": str(cwd), "env": dict(env), "output": str(output)}
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
            if self._answer(time.monotonic() + 300) is None:  # not even forked: stuck
                raise LauncherError("the nbgrader fork server did not answer within 300 s")
            done = self._answer(None if timeout is None else time.monotonic() + timeout)
            if done is None:
                self._kill_all()
                code = None
            else:
                code = done["exit"]
        except BrokenPipeError as exc:
            self._kill_all()
            raise LauncherError(f"the nbgrader fork server failed: {exc}") from None
        except BaseException:
            self._kill_all()
            raise
        return code, _tail(output, 6000)

    def _kill_all(self) -> None:
        """The server's process group: the server, the running command and what it started
        (except a kernel, which jupyter_client starts in a session of its own: the workspace kills
        that one)."""
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill_all()
            self._proc = None


def _tail(path: Path, chars: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars * 4))
            return f.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return ""
