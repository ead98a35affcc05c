"""Notebook files: conventions, and a plain-text form for writing and reviewing lessons.

The solution notebooks in ``solutions/`` are the source of truth. Writing nbgrader metadata by hand
in JSON is error-prone, so a notebook can be converted to a "percent" Python text and back without
loss of anything the course keeps (cell ids, cell kinds, nbgrader roles and points):

    # %% [markdown] id=goals
    # # Lesson 00: measuring a model
    # %% id=count-parameters solution
    def count_parameters(model, trainable_only=False):
        ### BEGIN SOLUTION
        ...
    # %% id=test-count-parameters tests points=2
    assert ...
    # %% [markdown] id=why-macs manual points=2
    # YOUR ANSWER HERE

Roles: ``solution`` (a cell the student writes), ``tests`` (an autograded test cell, read-only,
``points=N``), ``manual`` (a manually graded answer, ``points=N``), ``locked`` (read-only).
Cell tags: ``tags=a,b`` (for example ``tags=skip-in-grading`` on an experiment cell grading skips).
Markdown lines carry a leading ``# `` that is removed on the way back.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = ["KERNELSPEC", "from_text", "to_text", "write_notebook", "read_notebook",
           "nbgrader_role", "canonical_text"]

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<rest>.*)$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _nbgrader_meta(role: str, cell_id: str, points: float | None) -> dict:
    base = {"grade": False, "grade_id": cell_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}
    if role == "solution":
        base["solution"] = True
    elif role == "tests":
        base.update(grade=True, locked=True, points=points)
    elif role == "manual":
        base.update(grade=True, solution=True, points=points)
    elif role == "locked":
        base["locked"] = True
    return base


def nbgrader_role(cell) -> tuple[str | None, float | None]:
    """(role, points) of a cell: role is solution, tests, manual, locked or None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not meta:
        return None, None
    if meta.get("grade") and meta.get("solution"):
        return "manual", meta.get("points")
    if meta.get("grade"):
        return "tests", meta.get("points")
    if meta.get("solution"):
        return "solution", None
    if meta.get("locked"):
        return "locked", None
    return None, None


def _fmt_points(p) -> str:
    return str(int(p)) if float(p).is_integer() else str(p)


def from_text(text: str) -> nbformat.NotebookNode:
    """Build a notebook from the percent text described in the module docstring."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    current = None
    seen = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if not m:
            if current is None:
                if line.strip():
                    raise ValueError(f"line {lineno}: text before the first '# %%' cell header")
                continue
            current["lines"].append(line)
            continue
        fields = dict(role=None, id=None, points=None, tags=[])
        for token in m.group("rest").split():
            if token.startswith("id="):
                fields["id"] = token[3:]
            elif token.startswith("tags="):
                fields["tags"] = [tag for tag in token[5:].split(",") if tag]
            elif token.startswith("points="):
                fields["points"] = float(token[7:])
            elif token in ("solution", "tests", "manual", "locked"):
                fields["role"] = token
            else:
                raise ValueError(f"line {lineno}: unknown cell header token {token!r}")
        if not fields["id"] or not _ID.match(fields["id"]):
            raise ValueError(f"line {lineno}: every cell needs id=NAME (letters, digits, - and _)")
        if fields["id"] in seen:
            raise ValueError(f"line {lineno}: duplicate cell id {fields['id']!r}")
        seen.add(fields["id"])
        if fields["role"] in ("tests", "manual") and fields["points"] is None:
            raise ValueError(f"line {lineno}: a {fields['role']} cell needs points=N")
        current = dict(markdown=bool(m.group("md")), lines=[], **fields)
        nb.cells.append(current)
    cells = []
    for c in nb.cells:
        lines = c["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        if c["markdown"]:
            lines = [ln[2:] if ln.startswith("# ") else ln[1:] if ln.startswith("#") else ln
                     for ln in lines]
            cell = nbformat.v4.new_markdown_cell("\n".join(lines))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        cell.id = c["id"]
        if c["role"]:
            cell.metadata["nbgrader"] = _nbgrader_meta(c["role"], c["id"], c["points"])
        if c["tags"]:
            cell.metadata["tags"] = list(c["tags"])
        cells.append(cell)
    nb.cells = cells
    return nb


def to_text(nb) -> str:
    """The percent text of a notebook (inverse of ``from_text`` for the course's notebooks)."""
    out = []
    for cell in nb.cells:
        role, points = nbgrader_role(cell)
        header = "# %%" + (" [markdown]" if cell.cell_type == "markdown" else "")
        header += f" id={cell.id}"
        if role:
            header += f" {role}"
        if points is not None:
            header += f" points={_fmt_points(points)}"
        if cell.get("metadata", {}).get("tags"):
            header += " tags=" + ",".join(cell.metadata["tags"])
        out.append(header)
        if cell.cell_type == "markdown":
            out += [("# " + ln) if ln else "#" for ln in cell.source.splitlines()]
        else:
            out += cell.source.splitlines()
        out.append("")
    return "\n".join(out)


def read_notebook(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def canonical_text(nb) -> str:
    """nbformat's canonical layout (sorted keys, one-space indent) plus a final newline, so the
    same notebook always gives the same bytes."""
    nbformat.validate(nb)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def write_notebook(nb, path) -> None:
    """Write ``nb`` to ``path`` as ``canonical_text``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(canonical_text(nb), encoding="utf-8")
