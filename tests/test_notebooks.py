"""Static checks of the committed notebooks: fast, no kernel."""
import json

import nbformat
import pytest

from autograder.course import ROOT, lesson_names, notebook_path
from autograder.mutation import mutant_files
from autograder.notebooks import from_text, nbgrader_role, to_text

LESSONS = lesson_names(ROOT)
NOTEBOOKS = [notebook_path(l, kind) for l in LESSONS for kind in ("solutions", "lessons")]


def test_lessons_exist_in_both_folders():
    assert LESSONS, "no lessons found in solutions/"
    released = sorted(p.name for p in (ROOT / "lessons").iterdir() if p.is_dir())
    assert released == LESSONS
    for nb in NOTEBOOKS:
        assert nb.is_file(), f"missing {nb}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_notebook_is_clean(path):
    raw = json.loads(path.read_text())
    nb = nbformat.reads(path.read_text(), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [c.get("id") for c in raw["cells"]]
    assert all(ids), "every cell needs a stable id"
    assert len(set(ids)) == len(ids), "cell ids must be unique"
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"outputs in {cell['id']}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_structure(lesson):
    nb = nbformat.read(str(notebook_path(lesson)), as_version=4)
    roles = [nbgrader_role(c) for c in nb.cells]
    assert any(r == "tests" for r, _ in roles), "no autograded test cell"
    assert any(r == "manual" for r, _ in roles), "no written question"
    first = nb.cells[0].source.lower()
    for heading in ("goal", "lecture", "prerequisite", "time"):
        assert heading in first, f"the first cell should state the lesson's {heading}"
    # Hidden tests only in test cells, and every test cell has some.
    for cell in nb.cells:
        role, _ = nbgrader_role(cell)
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert role == "tests", f"hidden tests outside a test cell: {cell.id}"
        if role == "solution":
            assert "### BEGIN SOLUTION" in cell.source, f"solution cell {cell.id} has no solution region"


@pytest.mark.parametrize("lesson", LESSONS)
def test_text_form_round_trips(lesson):
    nb = nbformat.read(str(notebook_path(lesson)), as_version=4)
    again = from_text(to_text(nb))
    assert [(c.id, c.cell_type, c.source, c.metadata.get("nbgrader"), c.metadata.get("tags")) for c in again.cells] == \
           [(c.id, c.cell_type, c.source, c.metadata.get("nbgrader"), c.metadata.get("tags")) for c in nb.cells]


def test_every_lesson_has_mutants():
    assert sorted(mutant_files(ROOT)) == LESSONS


def test_text_format_errors_are_clear():
    with pytest.raises(ValueError, match="needs id="):
        from_text("# %% solution\nx = 1\n")
    with pytest.raises(ValueError, match="needs points"):
        from_text("# %% id=a tests\nassert True\n")
    with pytest.raises(ValueError, match="duplicate cell id"):
        from_text("# %% id=a\n# %% id=a\n")
    with pytest.raises(ValueError, match="unknown cell header token"):
        from_text("# %% id=a graded\n")
