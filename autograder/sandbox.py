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
from functools import lru_cache
from pathlib import Path

__all__ = ["bwrap_path", "sandbox_works", "bwrap_argv", "set_limits", "main"]


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


def set_limits(memory_mb: int | None, cpu_seconds: int | None, file_mb: int | None) -> None:
    """Resource limits for this process and everything it starts (None: leave as is)."""
    import resource

    for limit, value in ((resource.RLIMIT_AS, memory_mb and memory_mb * 2**20),
                         (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_FSIZE, file_mb and file_mb * 2**20)):
        if value is None:
            continue
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"resource limits must be positive integers, got {value!r}")
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, hard if hard != resource.RLIM_INFINITY else value))


def _system_binds() -> list[str]:
    args = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]  # merged /usr: /bin -> usr/bin
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    return args


def bwrap_argv(bwrap: str, config: dict, cwd: str, command: list[str]) -> list[str]:
    """The full bwrap command line that runs ``command`` in ``cwd`` under ``config`` (the JSON the
    Workspace writes: ``ro``, ``rw`` and ``hide`` lists of paths, ``tmp_mb``, ``env``)."""
    for key in ("ro", "rw", "hide"):
        if not isinstance(config.get(key, []), list):
            raise ValueError(f"sandbox config: {key!r} must be a list of paths")
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
    config = json.loads(Path(argv[0]).read_text())
    command = argv[2:]
    set_limits(config.get("memory_mb"), config.get("cpu_seconds"), config.get("file_mb"))
    cwd = os.path.realpath(os.getcwd())
    bwrap = bwrap_path() if config.get("sandbox") else None
    if bwrap:
        full = bwrap_argv(bwrap, config, cwd, command)
        os.execv(full[0], full)
    os.execv(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
