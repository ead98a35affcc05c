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
- autograded files are read-only: the workspace is removed with a handler that makes them writable;
- a kernel that never returns would hang ``autograde`` for ever: a whole-call timeout kills it.

Grading kernels (``autograde``) start through a kernelspec of the workspace: under bubblewrap when
it works (sandbox.py), with memory, CPU and file-size limits, and with the tamper guard (guard.py)
installed from an IPython startup file of the workspace's private IPYTHONDIR.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import site
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

__all__ = ["ROOT", "CellScore", "NbgraderError", "GradingTimeout", "Workspace", "isolated_env",
           "lesson_names", "notebook_path", "check_lesson", "GRADING_FLAG"]


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds its output."""


class GradingTimeout(NbgraderError):
    """An nbgrader command ran longer than its time limit and was stopped."""


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


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _make_writable_and_retry(func, path, _exc):
    os.chmod(path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
    func(path)


class Workspace:
    """A temporary nbgrader course folder. Use as a context manager, or call ``close()``.

    ``sandbox``: run grading kernels under bubblewrap (None: when it works on this machine; True:
    require it; False: never). ``cell_timeout``: seconds one cell may run (default: the course
    config's 120). ``memory_mb``: address-space limit of a grading kernel. ``hidden``: more
    folders a grading kernel must not read (grade_folder passes the submissions and the output).
    ``guard``: install the tamper guard in grading kernels. Limits of a grading kernel (None: no
    limit): ``cpu_seconds`` (CPU time), ``pids`` (processes and threads), ``output_kb`` and
    ``notebook_output_kb`` (output kept per cell and per notebook), ``disk_mb`` (largest file and
    the private /tmp).

    Everything a grading kernel could write that another submission's grading reads (the guard's
    files, the kernelspec, the sandbox policy, the IPython profile, the matplotlib folder, the
    course config, the solution notebooks) is written afresh before every ``autograde``.
    """

    def __init__(self, root: Path = ROOT, path: Path | None = None, lessons=None, *,
                 sandbox: bool | None = None, cell_timeout: float | None = None,
                 memory_mb: int | None = 4096, hidden=(), guard: bool = True,
                 cpu_seconds: int | None = 1800, pids: int | None = 256,
                 output_kb: int | None = 1000, notebook_output_kb: int | None = 5000,
                 disk_mb: int = 512):
        from .sandbox import bwrap_path, sandbox_works

        self.root = Path(root)
        self._owned = path is None
        self.path = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="mc-grade-"))
        self.path = self.path.resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        if cell_timeout is not None and (not isinstance(cell_timeout, (int, float)) or cell_timeout <= 0):
            raise ValueError(f"cell_timeout must be a positive number of seconds, got {cell_timeout!r}")
        if memory_mb is not None and (not isinstance(memory_mb, int) or memory_mb < 256):
            raise ValueError(f"memory_mb must be an integer of at least 256, got {memory_mb!r}")
        for name, value in (("cpu_seconds", cpu_seconds), ("pids", pids), ("output_kb", output_kb),
                            ("notebook_output_kb", notebook_output_kb), ("disk_mb", disk_mb)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        works = sandbox_works(bwrap_path()) if sandbox is not False else False
        if sandbox is True and not works:
            raise RuntimeError("sandbox=True but bubblewrap (bwrap) is missing or cannot create "
                               "namespaces on this machine")
        self.sandboxed = works
        self.guarded = guard
        self.cell_timeout = cell_timeout
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        self.pids = pids
        self.output_kb = output_kb
        self.notebook_output_kb = notebook_output_kb
        self.disk_mb = disk_mb
        self.hidden = [Path(h).resolve() for h in hidden]
        self._protected: dict[str, list[str]] = {}
        self._key = b""
        self._launcher = None
        self.pids_limit = None
        if pids is not None:
            from .sandbox import PidsLimit
            self.pids_limit = PidsLimit(f"mc-grade-{self.path.name}", pids)
            if self.pids_limit.path is None:
                self.pids_limit = None
        config = CONFIG.read_text()
        # The workspace's own additions to the course config (the repository's stays as it is).
        config += "\n# Added by the autograder for this temporary course folder.\n"
        if cell_timeout is not None:
            config += f"c.Execute.timeout = {float(cell_timeout)!r}\n"
        config += (f"c.GradingExecute.cell_output_bytes = {output_kb * 1000 if output_kb else -1}\n"
                   f"c.GradingExecute.notebook_output_bytes = "
                   f"{notebook_output_kb * 1000 if notebook_output_kb else -1}\n")
        # Unix socket paths are limited to ~107 bytes: a deep workspace gets a short runtime folder.
        self.runtime = self.private / "jupyter-runtime"
        self._extra_dirs: list[Path] = []
        if len(str(self.runtime / "kernel-ipc-99")) > 100:
            self.runtime = Path(tempfile.mkdtemp(prefix="mc-rt-", dir="/tmp" if Path("/tmp").is_dir() else None))
            self._extra_dirs.append(self.runtime)
        if os.name == "posix":
            # Unix sockets instead of TCP ports: works across the sandbox's empty network
            # namespace, and parallel workers never race for ports.
            config += 'c.KernelManager.transport = "ipc"\n'
            # A fixed connection file in the workspace (the default is a temporary file in /tmp,
            # which the sandbox cannot see); one kernel at a time runs per workspace.
            conn = self.runtime / "kernel.json"
            config += f"c.KernelManager.connection_file = {str(conn)!r}\n"
            config += f"c.KernelManager.ip = {str(conn.with_suffix('')) + '-ipc'!r}\n"
        self._config_text = config
        (self.path / "nbgrader_config.py").write_text(config)
        self.lessons = list(lessons if lessons is not None else lesson_names(self.root))
        for lesson in self.lessons:
            self._copy_solution(check_lesson(lesson, self.root))
        self._generated: set[str] = set()
        self._write_kernel_setup()
        from . import forkrun
        if forkrun.available():
            # Started now: nbgrader's import runs while the caller prepares the rest.
            self._launcher = forkrun.Launcher()
            self._launcher.start(self.env())

    def _copy_solution(self, lesson: str) -> None:
        src = self.root / "solutions" / lesson
        dest = self.path / "solutions" / lesson
        if dest.exists():
            shutil.rmtree(dest, onerror=_make_writable_and_retry)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))

    # -- grading kernels -----------------------------------------------------------------------
    @property
    def private(self) -> Path:
        return self.path / ".home"

    @property
    def guard_log(self) -> Path:
        return self.private / "guard" / "log.jsonl"

    def _write_kernel_setup(self) -> None:
        """Kernelspec (through the sandbox launcher), IPython startup file (the guard) and the
        sandbox's configuration, all inside the workspace."""

        from .sandbox import SandboxPolicy

        home = self.private
        # Fresh every time: a kernel that could write here (without the sandbox) must not change
        # how the next submission is graded.
        for sub in ("guard", "jupyter-config", "matplotlib", "ipython", "jupyter-path",
                    "jupyter-data"):
            if (home / sub).exists():
                shutil.rmtree(home / sub, onerror=_make_writable_and_retry)
        if self.runtime.exists():
            for entry in self.runtime.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        for sub in ("jupyter-runtime", "guard", "jupyter-config", "matplotlib", "protected"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(parents=True, exist_ok=True)
        (self.path / "nbgrader_config.py").write_text(self._config_text)
        profile = home / "ipython" / "profile_default"
        for sub in ("startup", "security", "log", "pid"):
            (profile / sub).mkdir(parents=True, exist_ok=True)
        # The IPython folder is read-only in the sandbox: no history database.
        (profile / "ipython_kernel_config.py").write_text("c.HistoryManager.enabled = False\n")
        self._write_startup()
        cache = os.environ.get("MCLIB_CACHE") or str(Path.home() / ".cache" / "mclib")
        course_roots = list(dict.fromkeys([self.root.resolve(), ROOT]))
        allowed_code = [r / pkg for r in course_roots for pkg in ("mclib", "autograder")]
        prefixes = list(dict.fromkeys(Path(p).resolve() for p in
                                      [sys.prefix, sys.base_prefix, sys.exec_prefix,
                                       *site.getsitepackages(), site.getusersitepackages(),
                                       *[p for p in sys.path if p]]))
        hidden = [*course_roots, self.path, *self.hidden]

        def exposes_hidden(p: Path) -> bool:
            return any(h == p or p in h.parents for h in hidden)

        ro = [str(p) for p in prefixes if p.exists() and not exposes_hidden(p)]
        ro += [str(p) for p in allowed_code] + [str(home)]
        policy = SandboxPolicy(
            sandbox=self.sandboxed,
            ro=list(dict.fromkeys(ro)),
            rw=[str(self.runtime), str(home / "guard")],
            hide=[str(h) for h in hidden],
            memory_mb=self.memory_mb,
            cpu_seconds=self.cpu_seconds,
            file_mb=self.disk_mb,
            tmp_mb=self.disk_mb,
            pids=self.pids,
            pids_cgroup=str(self.pids_limit.path) if self.pids_limit else None,
            # Inside the sandbox only (the launcher applies it there): a writable matplotlib folder.
            env={"MPLCONFIGDIR": "/tmp/matplotlib"},
            cache=str(Path(cache).resolve()),
            # IPython needs a writable folder: a fresh one in the sandbox's /tmp, with the
            # startup file and kernel config mounted read-only into it.
            ipython_profile=str(profile),
        )
        policy.write(home / "sandbox.json")
        # The interpreter by a path the sandbox shows (a virtual environment reached through a
        # symlink inside the course would be hidden with the course).
        python = str(Path(sys.executable).parent.resolve() / Path(sys.executable).name)
        spec = home / "jupyter-path" / "kernels" / "python3"
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [python, "-m", "autograder.sandbox", str(home / "sandbox.json"), "--",
                     python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python",
            # ipykernel interrupts itself on request: a signal to the launcher would not reach a
            # kernel in its own session inside the sandbox.
            "interrupt_mode": "message",
        }, indent=1))
        self._guard_env = {
            "MCLIB_GUARD_LOG": str(self.guard_log),
            "MCLIB_GUARD_FORBID": os.pathsep.join(str(h) for h in hidden),
            # What the kernel may read inside the forbidden places: Python, mclib, its own files.
            "MCLIB_GUARD_ALLOW": os.pathsep.join(ro + [cache]),
            "MCLIB_GUARD_KEY_FILE": str(home / "guard" / "key"),
        }
        if self.output_kb:
            self._guard_env["MCLIB_GUARD_OUTPUT_BYTES"] = str(self.output_kb * 1000)

    def _write_startup(self) -> None:
        """(Re)write the guard's IPython startup file. Rewritten before every grading run: without
        the sandbox, a submission could have changed it for the ones after it."""
        from .guard import startup_file_text

        startup = self.private / "ipython" / "profile_default" / "startup" / "00-grading-guard.py"
        if startup.exists():
            os.chmod(startup, stat.S_IWRITE | stat.S_IREAD)
        if self.guarded:
            startup.write_text(startup_file_text())
        elif startup.exists():
            startup.unlink()

    # -- plumbing ------------------------------------------------------------------------------
    def env(self) -> dict:
        env = isolated_env(self.root, self.private)
        # The workspace's kernelspec comes first: every notebook asks for "python3".
        env["JUPYTER_PATH"] = str(self.private / "jupyter-path")
        env["JUPYTER_DATA_DIR"] = str(self.private / "jupyter-data")
        env["MPLCONFIGDIR"] = str(self.private / "matplotlib")
        env.update(self._guard_env)
        return env

    def nbgrader(self, *args: str, timeout: float | None = None, env: dict | None = None) -> str:
        """Run ``nbgrader ARGS`` in the workspace; raise NbgraderError on a non-zero exit, and
        GradingTimeout (after killing it and its kernel) when it runs longer than ``timeout``.
        On POSIX each command is forked from the workspace's warm nbgrader process (forkrun.py:
        nbgrader's import paid once, not twice per submission); elsewhere it is a subprocess."""
        from . import forkrun

        env = env or self.env()
        try:
            if forkrun.available():
                if self._launcher is None:  # turned on after this workspace was made
                    self._launcher = forkrun.Launcher()
                code, output = self._launcher.run(args, self.path, env,
                                                  self.private / "nbgrader-output.log", timeout)
            else:
                code, output = self._nbgrader_subprocess(args, env, timeout)
        finally:
            self._kill_stragglers()
        if code is None:
            raise GradingTimeout(f"`nbgrader {' '.join(args)}` ran longer than {timeout:g} s "
                                 f"and was stopped")
        if code != 0:
            raise NbgraderError(f"`nbgrader {' '.join(args)}` exited {code}:\n{output}")
        return output

    def _nbgrader_subprocess(self, args, env: dict, timeout: float | None) -> tuple[int | None, str]:
        """``python -m nbgrader ARGS`` in its own session, so a timeout (exit code None) can kill
        it with everything it started."""
        proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=self.path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            return None, ""
        except BaseException:
            # Ctrl-C, SIGTERM (turned into an exception by the caller) or any error: nbgrader and
            # the kernel it started go with us.
            _kill_group(proc.pid)
            proc.wait()
            raise
        return proc.returncode, output[-6000:]

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

    def autograde(self, lesson: str, student: str | None = None,
                  timeout: float | None = None) -> None:
        """Autograde the submissions of ``lesson`` (one student's, or all) within ``timeout``
        seconds. The guard's log starts empty (read it with ``guard_findings``)."""
        if lesson not in self._generated:
            self.generate(lesson)
        args = ["autograde", lesson, "--force", "--create"]
        if student is not None:
            args += ["--student", student]
        protected = self._protected_cells(lesson)
        # Everything a previous kernel could have written is rewritten (see the class docstring).
        self._copy_solution(lesson)
        self._write_kernel_setup()
        self._key = secrets.token_bytes(32)
        key_file = self.private / "guard" / "key"
        key_file.write_bytes(self._key)
        protected_file = self.private / "protected" / f"{lesson}.json"
        protected_file.write_text(json.dumps(protected))
        env = self.env()
        env["MCLIB_GUARD_PROTECTED"] = str(protected_file)
        if self.guarded:
            # Read by the verdicts (verdicts.py) in nbgrader's process; the kernel launcher passes
            # only an allow-list of variables on, so the kernel never sees the key this way.
            env["MCLIB_VERDICT_KEY"] = self._key.hex()
            env["MCLIB_VERDICT_LOG"] = str(self.guard_log)
        self._pids_hits = self.pids_limit.hits() if self.pids_limit else 0
        self.nbgrader(*args, timeout=timeout, env=env)

    def limits_hit(self) -> set[str]:
        """Limits the guard saw the last ``autograde`` hit ("cpu")."""
        from .guard import _records

        if not self.guard_log.is_file():
            return set()
        records, _ = _records(self.guard_log, self._key or None)
        return {r.get("what") for r in records if r.get("kind") == "limit"}

    def _kill_stragglers(self) -> None:
        """Processes a kernel left in its own session (bubblewrap's --new-session, or a
        double-forked child): found through the pids cgroup, when there is one."""
        if self.pids_limit is not None and self.pids_limit.path is not None:
            for task in (self.pids_limit.path / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(task), signal.SIGKILL)
                except (ProcessLookupError, ValueError, PermissionError):
                    pass

    def hit_process_limit(self) -> bool:
        """Whether the last ``autograde`` had a fork or thread refused by the process limit."""
        return bool(self.pids_limit) and self.pids_limit.hits() > getattr(self, "_pids_hits", 0)

    def _protected_cells(self, lesson: str) -> list[str]:
        """The source hashes of ``lesson``'s test and locked cells as nbgrader runs them (from the
        gradebook, hidden tests included): the guard protects what they define. Kept in the
        grader's memory and written afresh for every submission."""
        from nbgrader.api import Gradebook

        from .guard import source_hash

        if lesson not in self._protected:
            with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gb:
                cells = gb.find_notebook(lesson, lesson).source_cells
                self._protected[lesson] = sorted({source_hash(c.source) for c in cells
                                                  if c.cell_type == "code" and c.locked})
        return self._protected[lesson]

    def guard_findings(self, lesson: str, student: str) -> list[str]:
        """Why the guard flags ``student``'s last autograded run (empty: nothing seen)."""
        from .guard import findings

        if not self.guarded:
            return []
        nb_path = self.autograded_notebook(lesson, student)
        counts = []
        if nb_path.is_file():
            nb = json.loads(nb_path.read_text(encoding="utf-8"))
            counts = [c["execution_count"] for c in nb.get("cells", [])
                      if c.get("cell_type") == "code" and isinstance(c.get("execution_count"), int)]
        # Paths in the reasons name places, not this run's temporary folder: the report must be
        # the same however and wherever the grading ran.
        labels = [(str(self.path), "<grading folder>"), (str(self.root.resolve()), "<course>"),
                  (str(ROOT), "<course>")] + [(str(h), "<submissions or output>") for h in self.hidden]
        out = []
        for reason in findings(self.guard_log, counts, self._key or None):
            for path, label in sorted(labels, key=lambda pl: -len(pl[0])):
                reason = reason.replace(path, label)
            out.append(reason)
        return list(dict.fromkeys(out))

    def feedback(self, lesson: str, student: str | None = None) -> None:
        """Write HTML feedback for the autograded submissions into ``feedback/``."""
        args = ["generate_feedback", lesson, "--force"]
        if student is not None:
            args += ["--student", student]
        self.nbgrader(*args)

    def released_notebook(self, lesson: str) -> Path:
        """The student version of ``lesson`` generated in this workspace."""
        if lesson not in self._generated:
            self.generate(lesson)
        return self.path / "lessons" / lesson / f"{lesson}.ipynb"

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
        if self._launcher is not None:
            self._launcher.close()
            self._launcher = None
        if self.pids_limit is not None:
            self.pids_limit.close()
        if self._owned and self.path.exists():
            shutil.rmtree(self.path, onerror=_make_writable_and_retry)
        for extra in self._extra_dirs:
            shutil.rmtree(extra, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
