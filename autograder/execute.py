"""Run a whole notebook in a fresh kernel with nbclient, outside nbgrader: no grading guard, no
sandbox, no hidden-test machinery. For the benchmarks (how long a lesson takes with an empty or a
warm model cache) and for tests that need a lesson to run under an unusual kernel set-up (for
example CUDA reported as present but unusable).

The kernel runs in a private IPython/Jupyter folder (``isolated_env``), so an IPython startup file
given here applies to that one run only, and the self-check cell at the end of every lesson skips
itself (the grading flag is set).
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import ROOT, isolated_env
from .feedback import error_summary

__all__ = ["NotebookRun", "run_notebook"]


@dataclass
class NotebookRun:
    """What happened: seconds from kernel start to the last cell, and the first failing cell."""

    path: Path
    seconds: float
    error: str = ""          # "" when every cell ran; else "<cell id>: <error summary>"
    notebook: nbformat.NotebookNode | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def run_notebook(path, *, env: dict | None = None, startup: str | None = None,
                 timeout: float = 600, root: Path = ROOT) -> NotebookRun:
    """Execute the notebook at ``path`` top to bottom in a copy of its folder; stop at the first
    cell that raises. ``env``: extra environment variables for the kernel (for example
    ``MCLIB_CACHE``). ``startup``: Python source of an IPython startup file the kernel runs before
    the first cell. ``timeout``: seconds per cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    with tempfile.TemporaryDirectory(prefix="mc-run-") as private:
        private = Path(private)
        work = private / "work"
        work.mkdir()
        kernel_env = isolated_env(Path(root), private)
        kernel_env["JUPYTER_DATA_DIR"] = str(private / "jupyter-data")
        kernel_env["MPLCONFIGDIR"] = str(private / "matplotlib")
        kernel_env.update(env or {})
        if startup is not None:
            folder = Path(kernel_env["IPYTHONDIR"]) / "profile_default" / "startup"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "00-run-notebook.py").write_text(startup)
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                resources={"metadata": {"path": str(work)}})
        start = time.perf_counter()
        error = ""
        try:
            client.execute(env=kernel_env)
        except Exception as exc:  # noqa: BLE001 - a failed cell, a timeout, a dead kernel: all reported
            failed = next((c for c in nb.cells if c.cell_type == "code" and error_summary(c)), None)
            if isinstance(exc, CellExecutionError) and failed is not None:
                error = f"{failed.get('id')}: {error_summary(failed)}"
            else:
                lines = [ln for ln in str(exc).splitlines() if ln.strip()]
                error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        seconds = time.perf_counter() - start
    return NotebookRun(path, seconds, error, nb)
