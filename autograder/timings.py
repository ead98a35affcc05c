"""Where the seconds of one graded submission go, read from the autograded notebook itself.

nbclient (which nbgrader's Execute preprocessor runs on) records in every executed cell's
``metadata.execution`` when the kernel started it (``iopub.status.busy``) and when it replied
(``shell.execute_reply``). With the wall-clock start and end of the whole grading call, the seconds
of one submission split into:

- ``graded``: the cells grading needs by definition, the student's solution cells and the test cells;
- ``other``: every other executed cell (imports, data, demonstrations, experiments);
- ``skipped``: cells tagged ``skip-in-grading`` run as a one-line comment (see skipcells.py):
  their count is reported, their milliseconds go to ``other``;
- ``outside``: before the first cell and after the last (nbgrader's start-up, its checks and
  gradebook writes, the kernel's start and shutdown, feedback);
- ``kernel``: the part of ``outside`` from launching the kernel to its first reply, as the grading
  executor (verdicts.GradingExecute) measured it in this run and wrote it in the notebook's
  metadata (absent when it did not). The rest of ``outside`` is nbgrader's own overhead.
"""
from __future__ import annotations

from datetime import datetime

__all__ = ["cell_seconds", "split_seconds", "SKIP_TAG"]

SKIP_TAG = "skip-in-grading"


def _ts(text) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _kind(cell) -> str:
    meta = cell.get("metadata", {})
    nbg = meta.get("nbgrader", {})
    if nbg.get("solution") or nbg.get("grade"):
        return "graded"
    # Skipped is what grading replaced by its comment: a tag alone (the student version carries
    # the instructor's tags) does not say the course that graded it skipped the cell.
    if "".join(cell.get("source", "")).startswith("# Not run while grading"):
        return "skipped"
    return "other"


def cell_seconds(nb) -> list[tuple[str, str, float | None, float | None]]:
    """(cell id, kind, started, ended) of every code cell of an executed notebook (dict or
    NotebookNode); started/ended are POSIX seconds, None for a cell that did not run."""
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        ex = cell.get("metadata", {}).get("execution", {})
        start = _ts(ex.get("iopub.status.busy")) or _ts(ex.get("iopub.execute_input"))
        end = _ts(ex.get("shell.execute_reply")) or _ts(ex.get("iopub.status.idle"))
        out.append((cell.get("id", ""), _kind(cell), start, end))
    return out


def split_seconds(nb, started: float, ended: float) -> dict:
    """Seconds of one grading call (``started``/``ended``: POSIX wall-clock seconds around it) by
    kind: graded, other, outside, kernel when recorded (see the module docstring), plus the number
    of skipped cells."""
    if ended < started:
        raise ValueError(f"ended ({ended}) is before started ({started})")
    cells = cell_seconds(nb)
    ran = [(k, s, e) for _, k, s, e in cells if s is not None and e is not None and e >= s]
    split = {"graded": 0.0, "other": 0.0, "skipped_cells": sum(1 for _, k, _s, _e in cells
                                                               if k == "skipped")}
    for kind, s, e in ran:
        split["graded" if kind == "graded" else "other"] += e - s  # a skipped cell: a comment
    total = ended - started
    split["outside"] = max(0.0, total - split["graded"] - split["other"])
    split["total"] = total
    mine = nb.get("metadata", {}).get("autograder")
    kernel = mine.get("kernel_start_seconds") if isinstance(mine, dict) else None
    if isinstance(kernel, (int, float)) and not isinstance(kernel, bool) and 0 <= kernel <= split["outside"]:
        split["kernel"] = float(kernel)
    return split
