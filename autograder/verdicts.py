"""Test-cell verdicts decided on the grader's side, and output bounded in bytes as it arrives.

nbgrader scores a test cell from what the student's own process printed (``utils.determine_grade``:
an ``error`` output or any stderr text gives 0, a number displayed as the cell's value gives partial
credit, anything else full marks). A harmless ``warnings.warn`` then costs a correct student the
cell, and a submission that controls its kernel's printing controls its grade. This course uses a
different rule, configured in ``nbgrader_config.py`` so plain ``nbgrader autograde`` uses it too:

    A test cell earns its points exactly when the instructor's test code ran to completion without
    raising. Printed output, warnings, stderr and displayed values neither give nor take points.
    There is no partial credit.

The evidence comes from the grader's side of the kernel connection:

- ``GradingExecute`` (the executor) keeps, for every cell it sends, the status of the kernel's
  ``execute_reply`` and its execution count;
- in a Workspace grading run, the guard in the kernel (guard.py) writes, after every cell, a record
  of the hash of the code that ran and whether it raised, authenticated with a key the kernel gets
  once in a file that is deleted when read. ``SaveVerdicts`` gives points only when the reply says
  "ok" *and* a valid record says the test cell's own source (as in the instructor's notebook) ran
  at that execution count without raising. Without a guard (``MCLIB_VERDICT_KEY`` unset, e.g.
  plain nbgrader) the reply status alone decides.

``GradingExecute`` also caps output as each message arrives, before it is kept: each cell's outputs
at ``cell_output_bytes`` and the whole notebook's at ``notebook_output_bytes`` (a marker line says
where it was cut), so a submission that prints in a loop neither floods the feedback nor the
grader's memory.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, SaveAutoGrades
from traitlets import Integer

from .guard import completed_cells, source_hash

__all__ = ["GradingExecute", "SaveVerdicts", "OUTPUT_CUT", "KEY_ENV", "LOG_ENV", "message_bytes"]

#: The start of the line that replaces output beyond the limit (grading.py looks for it).
OUTPUT_CUT = "[output cut by the grader:"
KEY_ENV = "MCLIB_VERDICT_KEY"    # hex key of the guard's records, in the grader's environment only
LOG_ENV = "MCLIB_VERDICT_LOG"    # the guard's log the verdicts read
_REPLIES = "autograder_replies"  # resources key: cell index -> {"status", "n"}


def message_bytes(msg: dict) -> int:
    """The size of an output message's payload: stream text, or every data and metadata value."""
    content = msg.get("content", {})
    if "text" in content and isinstance(content["text"], str):
        return len(content["text"].encode("utf-8", "replace"))
    total = 0
    for key in ("data", "metadata", "traceback", "evalue", "ename"):
        value = content.get(key)
        if value is None:
            continue
        total += len(value.encode("utf-8", "replace")) if isinstance(value, str) else len(
            json.dumps(value, default=str).encode("utf-8", "replace"))
    return total


class GradingExecute(Execute):
    """nbgrader's executor, recording every cell's reply status and capping output in bytes."""

    cell_output_bytes = Integer(
        1_000_000, help="bytes of output kept per cell; the rest is dropped (-1: no limit)"
    ).tag(config=True)
    notebook_output_bytes = Integer(
        5_000_000, help="bytes of output kept for the whole notebook (-1: no limit)"
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._nb_bytes = 0
        self._cell_bytes: dict[int, int] = {}
        self._cut: set[int] = set()
        self._kernel_clock = self._kernel_seconds = None
        if resources is not None:
            resources[_REPLIES] = {}
        # The "autograder" notebook metadata is the grader's: whatever a submission put there goes.
        nb.metadata.pop("autograder", None)
        nb, resources = super().preprocess(nb, resources, km=km)
        if self._kernel_seconds is not None:
            # Where a submission's seconds go (timings.py): the kernel's start as this run saw it.
            nb.metadata["autograder"] = {"kernel_start_seconds": round(self._kernel_seconds, 3)}
        return nb, resources

    def start_new_kernel(self, **kwargs):
        self._kernel_clock = time.perf_counter()
        return super().start_new_kernel(**kwargs)

    def start_new_kernel_client(self):
        kc = super().start_new_kernel_client()
        if self._kernel_clock is not None:  # from launching the kernel to its first reply
            self._kernel_seconds = time.perf_counter() - self._kernel_clock
        return kc

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        reply = kwargs["execute_reply"]
        content = reply.get("content", {}) if reply else {}
        self.resources.setdefault(_REPLIES, {})[kwargs["cell_index"]] = {
            "status": content.get("status"), "n": content.get("execution_count")}

    def _room(self, cell_index: int) -> float:
        inf = float("inf")
        cell = inf if self.cell_output_bytes < 0 else self.cell_output_bytes - self._cell_bytes.get(cell_index, 0)
        nb = inf if self.notebook_output_bytes < 0 else self.notebook_output_bytes - self._nb_bytes
        return min(cell, nb)

    def output(self, outs, msg, display_id, cell_index):
        size = message_bytes(msg)
        room = self._room(cell_index)
        if size <= room:
            self._cell_bytes[cell_index] = self._cell_bytes.get(cell_index, 0) + size
            self._nb_bytes += size
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream" and room > 0:
            # Keep the beginning of a long print, up to the limit.
            data = content["text"].encode("utf-8", "replace")[: int(room)]
            msg = {**msg, "content": {**content, "text": data.decode("utf-8", "ignore")}}
            self._cell_bytes[cell_index] = self._cell_bytes.get(cell_index, 0) + len(data)
            self._nb_bytes += len(data)
            super().output(outs, msg, display_id, cell_index)
        if cell_index not in self._cut:
            self._cut.add(cell_index)
            which = ("this notebook's output passed the limit of "
                     f"{self.notebook_output_bytes} bytes" if self._nb_bytes >= self.notebook_output_bytes
                     and self.notebook_output_bytes >= 0
                     else f"this cell's output passed the limit of {self.cell_output_bytes} bytes")
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n{OUTPUT_CUT} {which}; the rest was dropped]\n"))
        return None

    def handle_comm_msg(self, outs, msg, cell_index):
        # Widget state travels in comm messages: counted against the notebook's limit too.
        size = message_bytes(msg) + len(json.dumps(msg.get("content", {}).get("data", {}),
                                                   default=str))
        if self.notebook_output_bytes >= 0 and self._nb_bytes + size > self.notebook_output_bytes:
            return None
        self._nb_bytes += size
        return super().handle_comm_msg(outs, msg, cell_index)


class SaveVerdicts(SaveAutoGrades):
    """nbgrader's SaveAutoGrades with this course's rule for test cells (module docstring)."""

    def preprocess(self, nb, resources):
        key = os.environ.get(KEY_ENV, "")
        log = os.environ.get(LOG_ENV, "")
        self._key = bytes.fromhex(key) if key else None
        self._completed = completed_cells(Path(log), self._key) if self._key and log else None
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        self._index = cell_index
        return super().preprocess_cell(cell, resources, cell_index)

    def passed(self, cell, resources) -> bool:
        reply = resources.get(_REPLIES, {}).get(self._index)
        if not reply or reply.get("status") != "ok":
            return False
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return False
        if self._completed is not None:
            return (reply.get("n"), source_hash(cell.source)) in self._completed
        return True

    def _add_score(self, cell, resources):
        if cell.cell_type != "code" or utils.is_solution(cell):
            return super()._add_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        max_points = float(cell.metadata["nbgrader"]["points"])
        grade.auto_score = max_points if self.passed(cell, resources) else 0.0
        grade.needs_manual_grade = grade.manual_score is not None
        self.gradebook.db.commit()
