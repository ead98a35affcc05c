"""Starting a grading kernel inside a sandbox, with bounded memory and CPU time.

The Workspace writes a kernelspec named ``python3`` (the name every course notebook asks for) whose
command is this module: ``python -m autograder.sandbox CONFIG.json -- python -m ipykernel_launcher
-f {connection_file}``. Jupyter starts it in the submission's own folder (``autograded/<student>/
<lesson>``); it then

- sets resource limits that the kernel inherits: address space (memory), CPU seconds, file size;
- when bubblewrap (``bwrap``) is available and works, replaces itself with ``bwrap`` running the
  kernel with: the system and the Python installation read-only; of the course only ``mclib/`` and
  ``autograder/`` (read-only); the trained-model cache read-only; the submission's folder, the
  kernel's connection folder and the guard's log folder writable; a private ``/tmp`` and HOME;
  no network (``--unshare-net``), its own process and IPC namespaces, a new session. The course's
  ``solutions/``, ``tests/``, ``.git``, the gradebook and other students' submissions are simply
  not there. Without network the kernel talks to nbgrader over Unix sockets (IPC transport, set in
  the workspace's nbgrader config);
- otherwise runs the kernel directly with the limits only (the guard's audit hook still refuses
  Python-level reads of the course's files; README says what that does not cover).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["SandboxPolicy", "bwrap_path", "sandbox_works", "bwrap_argv", "set_limits", "main",
           "kernel_env", "ENV_ALLOW", "PidsLimit"]

#: The environment variables a grading kernel gets (everything else of the grader's environment,
#: its secrets included, stays out): locale, paths the Workspace sets, the guard's files (which
#: the guard removes once read) and thread counts.
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED",
             "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "MPLCONFIGDIR", "MCLIB_PROGRESS",
             "MCLIB_GRADING", "MCLIB_CACHE", "IPYTHONDIR", "JUPYTER_CONFIG_DIR",
             "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_PATH", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NBGRADER_EXECUTION", "HOME", "TMPDIR",
             "PYDEVD_DISABLE_FILE_VALIDATION")
ENV_ALLOW_PREFIXES = ("LC_", "MCLIB_GUARD_")


@dataclass
class SandboxPolicy:
    """Everything the kernel launcher needs, written by the Workspace as JSON next to the
    kernelspec (fresh for every submission).

    ``sandbox``: run under bubblewrap. ``ro``/``rw``: paths bound read-only / writable; ``hide``:
    paths that must not be visible (an empty folder is put on top where a bound path exposes
    them). Limits (None: none): ``memory_mb`` (address space), ``cpu_seconds`` (CPU time of the
    kernel), ``file_mb`` (largest file it may write), ``tmp_mb`` (its private /tmp), ``pids``
    (processes and threads, see ``PidsLimit``). ``env``: variables set inside the sandbox.
    ``cache``: the trained-model cache, mounted file by file read-only. ``ipython_profile``: the
    IPython profile whose startup folder and kernel config are mounted read-only.
    """

    sandbox: bool = False
    ro: list = field(default_factory=list)
    rw: list = field(default_factory=list)
    hide: list = field(default_factory=list)
    memory_mb: int | None = 4096
    cpu_seconds: int | None = None
    file_mb: int | None = 512
    tmp_mb: int = 512
    pids: int | None = None
    pids_cgroup: str | None = None
    env: dict = field(default_factory=dict)
    cache: str | None = None
    ipython_profile: str | None = None

    def __post_init__(self):
        for key in ("ro", "rw", "hide"):
            if not isinstance(getattr(self, key), list):
                raise ValueError(f"sandbox policy: {key!r} must be a list of paths")
        for key in ("memory_mb", "cpu_seconds", "file_mb", "pids"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise ValueError(f"sandbox policy: {key} must be a positive integer or None, got {value!r}")

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def read(cls, path: Path) -> "SandboxPolicy":
        data = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def kernel_env(environ: dict) -> dict:
    """The allow-listed part of ``environ`` (see ``ENV_ALLOW``)."""
    return {k: v for k, v in environ.items()
            if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}


class PidsLimit:
    """A limit on the processes and threads of one grading kernel and everything it starts.

    Linux offers two mechanisms. A ``pids`` cgroup (v1 ``/sys/fs/cgroup/pids`` or a writable v2
    hierarchy) counts exactly the kernel's tasks: used when the grader may create one (as root, or
    with a delegated cgroup). Otherwise ``RLIMIT_NPROC`` is set in the launcher, which counts every
    process of the user (so the limit is added to what the user already runs) and which root
    ignores: without a cgroup, grading as root has no process limit (README says so).
    """

    def __init__(self, name: str, limit: int):
        self.limit = limit
        self.path: Path | None = None
        for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if (base / "cgroup.procs").exists() and os.access(base, os.W_OK) and (
                    base.name == "pids" or "pids" in _read(base / "cgroup.subtree_control")):
                try:
                    path = base / name
                    path.mkdir(exist_ok=True)
                    (path / "pids.max").write_text(str(limit))
                    self.path = path
                    break
                except OSError:
                    continue

    def hits(self) -> int:
        """How many times a fork was refused by the limit so far."""
        if self.path is None:
            return 0
        for line in _read(self.path / "pids.events").splitlines():
            if line.startswith("max "):
                return int(line.split()[1])
        return 0

    def close(self) -> None:
        if self.path is not None:
            for task in _read(self.path / "cgroup.procs").split():
                try:
                    os.kill(int(task), 9)
                except (ProcessLookupError, ValueError, PermissionError):
                    pass
            try:
                self.path.rmdir()
            except OSError:
                pass


def _read(path: Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def bwrap_path() -> str | None:
    """bubblewrap's path, or None. MCLIB_SANDBOX=off disables the sandbox (for debugging)."""
    if os.environ.get("MCLIB_SANDBOX", "").lower() in ("0", "off", "no", "false"):
        return None
    return shutil.which("bwrap")


@lru_cache(maxsize=None)
def sandbox_works(bwrap: str | None = None) -> bool:
    """Whether bubblewrap can actually create the namespaces here: containers and hardened kernels
    often forbid it even when the program is installed."""
    bwrap = bwrap or bwrap_path()
    if not bwrap:
        return False
    try:
        proc = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                               "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
                               "--", "/bin/sh", "-c", "true"],
                              capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _user_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid and len(list((entry / "task").iterdir()))
            except OSError:
                pass
    return count


def set_limits(memory_mb: int | None, cpu_seconds: int | None, file_mb: int | None,
               nproc: int | None = None) -> None:
    """Resource limits for this process and everything it starts (None: leave as is). ``nproc``
    (processes and threads) uses RLIMIT_NPROC, on top of what the user already runs; root
    ignores it (see ``PidsLimit``)."""
    import resource

    for limit, value in ((resource.RLIMIT_AS, memory_mb and memory_mb * 2**20),
                         (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_FSIZE, file_mb and file_mb * 2**20),
                         (resource.RLIMIT_NPROC, nproc and nproc + _user_processes())):
        if value is None:
            continue
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"resource limits must be positive integers, got {value!r}")
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # CPU time: SIGXCPU at the soft limit (the guard logs it), SIGKILL a few seconds later.
        top = value + 5 if limit == resource.RLIMIT_CPU else value
        resource.setrlimit(limit, (value, hard if hard != resource.RLIM_INFINITY and hard < top else top))


def _system_binds() -> list[str]:
    args = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]  # merged /usr: /bin -> usr/bin
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    return args


def bwrap_argv(bwrap: str, config: SandboxPolicy | dict, cwd: str, command: list[str]) -> list[str]:
    """The full bwrap command line that runs ``command`` in ``cwd`` under ``config`` (a
    SandboxPolicy, or a dict of its fields)."""
    if isinstance(config, dict):
        config = SandboxPolicy(**config)
    config = asdict(config)
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
            "--unshare-ipc", "--unshare-uts", "--hostname", "grading"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev"]
    if Path("/sys").is_dir():
        args += ["--ro-bind", "/sys", "/sys"]  # torch reads the CPU topology there
    args += ["--size", str(int(config.get("tmp_mb", 512)) * 2**20), "--tmpfs", "/tmp"]
    hide = [str(p) for p in config.get("hide", [])]

    def inside(p: str, roots) -> bool:
        return any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    ro = [p for p in config.get("ro", []) if Path(p).exists()]
    rw = [p for p in config.get("rw", []) + [cwd] if Path(p).exists()]
    for p in ro:
        args += ["--ro-bind", p, p]
    # Anything to hide that a bound folder exposed (e.g. a course inside a bound folder) gets an
    # empty folder on top; the allowed paths inside it are bound again afterwards.
    for p in hide:
        if Path(p).is_dir() and inside(p, ro):
            args += ["--tmpfs", p]
    for p in ro:
        if inside(p, hide):
            args += ["--ro-bind", p, p]
    for p in rw:
        args += ["--bind", p, p]
    cache = config.get("cache")
    if cache and Path(cache).is_dir():
        # The trained-model cache: a writable folder of the sandbox's /tmp with every cached file
        # mounted read-only into it. A submission reads the models, may train and cache one that is
        # missing (in its own /tmp), and cannot change what other submissions will load.
        inner = "/tmp/mclib-cache"
        args += ["--dir", inner, "--setenv", "MCLIB_CACHE", inner]
        for f in sorted(Path(cache).rglob("*")):
            rel = f.relative_to(cache)
            if f.is_file() and not f.name.endswith(".part") and len(rel.parts) <= 3:
                args += ["--ro-bind", str(f), f"{inner}/{rel.as_posix()}"]
    profile = config.get("ipython_profile")
    if profile and Path(profile).is_dir():
        inner = "/tmp/ipython/profile_default"
        args += ["--dir", inner, "--setenv", "IPYTHONDIR", "/tmp/ipython"]
        for name in ("startup", "ipython_kernel_config.py"):
            if (Path(profile) / name).exists():
                args += ["--ro-bind", str(Path(profile) / name), f"{inner}/{name}"]
    args += ["--dir", "/tmp/home", "--setenv", "HOME", "/tmp/home", "--setenv", "TMPDIR", "/tmp",
             "--unsetenv", "JPY_PARENT_PID"]
    for k, v in config.get("env", {}).items():
        args += ["--setenv", k, v]
    args += ["--chdir", cwd, "--", *command]
    return args


def main(argv: list[str] | None = None) -> int:
    """Kernel launcher: ``python -m autograder.sandbox CONFIG.json -- COMMAND...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m autograder.sandbox CONFIG.json -- COMMAND ...", file=sys.stderr)
        return 2
    policy = SandboxPolicy.read(Path(argv[0]))
    command = argv[2:]
    if policy.pids_cgroup:
        # Joined before anything else starts: every process and thread of the kernel counts.
        try:
            (Path(policy.pids_cgroup) / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:
            print(f"autograder.sandbox: cannot join the pids cgroup: {exc}", file=sys.stderr)
            return 3
    set_limits(policy.memory_mb, policy.cpu_seconds, policy.file_mb,
               None if policy.pids_cgroup else policy.pids)
    cwd = os.path.realpath(os.getcwd())
    # The grader's environment (its secrets, the key of the guard's records) stays out.
    env = kernel_env(dict(os.environ))
    bwrap = bwrap_path() if policy.sandbox else None
    if bwrap:
        full = bwrap_argv(bwrap, policy, cwd, command)
        os.execve(full[0], full, env)
    os.execve(command[0], command, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
