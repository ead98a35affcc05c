"""Experiment cells tagged skip-in-grading (autograder/skipcells.py): never a student's or a test
cell, and no cell that grading keeps reads what a skipped cell defines or changes."""
from __future__ import annotations

import copy
import time

import nbformat
import pytest

from autograder.course import NbgraderError, Workspace, lesson_names, notebook_path
from autograder.notebooks import from_text, read_notebook, to_text, write_notebook
from autograder.skipcells import (SKIP_TAG, SKIPPED_SOURCE, cell_names, dependency_problems,
                                  skippable_cells, tag_problems)
from tiny_lesson import LESSON, MAX_SCORE, SOLUTION_TEXT


def _nb(*cells):
    """cells: (id, source, role, tags)"""
    text = "".join(f"# %% id={cid}{' ' + role if role else ''}"
                   f"{' points=1' if role in ('tests', 'manual') else ''}"
                   f"{' tags=' + ','.join(tags) if tags else ''}\n{src}\n" for cid, src, role, tags in cells)
    return from_text(text)


SKIP = [SKIP_TAG]


def test_text_form_keeps_tags():
    nb = _nb(("a", "x = 1", None, SKIP))
    assert nb.cells[0].metadata["tags"] == SKIP
    assert "tags=skip-in-grading" in to_text(nb)
    assert from_text(to_text(nb)).cells[0].metadata["tags"] == SKIP


def test_tags_on_student_test_or_locked_cells_are_refused():
    nb = _nb(("ok", "x = 1", None, SKIP), ("sol", "y = 2", "solution", SKIP),
             ("t", "assert y == 2", "tests", SKIP), ("lock", "z = 3", "locked", SKIP))
    problems = tag_problems(nb)
    assert len(problems) == 3
    assert "sol is a solution cell" in problems[0] and "t is a test cell" in problems[1]
    assert "lock is a locked cell" in problems[2]
    md = nbformat.v4.new_markdown_cell("text", metadata={"tags": SKIP})
    md.id = "md"
    nb.cells.append(md)
    assert "only code cells" in tag_problems(nb)[-1]


def test_cell_names_binds_changes_reads():
    names = cell_names("import torch\n%matplotlib inline\nmodel = Net()\nfit(model, data)\n"
                       "opt.step()\nw[0] = 1\nprint(score)\ndef f():\n    return g\n")
    assert {"torch", "model", "f"} <= names["binds"] and "g" in names["reads"]
    assert names["changes"] == {"model", "data", "opt", "w"}  # print() changes nothing
    assert cell_names("torch.manual_seed(0)")["global_state"] == ["torch.manual_seed"]


def test_dependency_analysis_finds_what_skipping_would_break():
    setup = ("setup", "import torch\nmodel = make()", None, [])
    # A skipped cell that only draws a figure: nothing later reads it.
    safe = _nb(setup, ("plot", "fig = draw(torch.zeros(3))", None, SKIP),
               ("sol", "def f(m):\n    return m", "solution", []), ("t", "assert f(model)", "tests", []))
    assert dependency_problems(safe) == []
    # It defines a name a test reads.
    reads = _nb(setup, ("exp", "acc = evaluate(model)", None, SKIP), ("t", "assert acc > 0.9", "tests", []))
    assert "cell t (test cell) reads 'acc', which skipped cell exp" in dependency_problems(reads)[0]
    # It trains the model in place, and a student's cell reads the model.
    trains = _nb(setup, ("exp", "fit(model, epochs=3)", None, SKIP),
                 ("sol", "def g():\n    return model", "solution", []))
    assert "reads 'model'" in dependency_problems(trains)[0]
    # A kept cell that defines the name again in between makes it safe.
    again = _nb(setup, ("exp", "acc = evaluate(model)", None, SKIP), ("k", "acc = 0.95", None, []),
                ("t", "assert acc > 0.9", "tests", []))
    assert dependency_problems(again) == []
    seeds = _nb(setup, ("exp", "torch.manual_seed(1)", None, SKIP))
    assert "changes state every later cell sees: torch.manual_seed" in dependency_problems(seeds)[0]


@pytest.mark.parametrize("lesson", lesson_names())
def test_the_lessons_tags_are_safe(lesson):
    nb = read_notebook(notebook_path(lesson))
    assert tag_problems(nb) == []
    assert dependency_problems(nb) == []


def test_tagging_a_copy_of_a_real_lesson():
    lesson = lesson_names()[0]
    nb = copy.deepcopy(read_notebook(notebook_path(lesson)))
    candidates = skippable_cells(nb)
    for cell in nb.cells:
        if cell.get("id") in candidates:
            cell.metadata["tags"] = SKIP
    assert tag_problems(nb) == [] and dependency_problems(nb) == []
    # The first ordinary cell whose names later cells read cannot be skipped (imports, data).
    needed = next(c for c in nb.cells if c.cell_type == "code" and "nbgrader" not in c.metadata
                  and c.id not in candidates)
    needed.metadata["tags"] = SKIP
    assert any(f"skipped cell {needed.id}" in p for p in dependency_problems(nb))


# ---------------------------------------------------------------------------------------------
# Through nbgrader, with the tiny lesson

EXPERIMENT = "import time\ntime.sleep(20)\nslow_result = 42"


def _course(root, tag_cell="experiment"):
    nb = from_text(SOLUTION_TEXT + f"# %% id=experiment\n{EXPERIMENT}\n")
    for cell in nb.cells:
        if cell.id == tag_cell:
            cell.metadata["tags"] = SKIP
    write_notebook(nb, root / "solutions" / LESSON / f"{LESSON}.ipynb")
    return root


@pytest.mark.notebooks
def test_grading_skips_tagged_cells_unless_the_student_edited_them(tmp_path):
    root = _course(tmp_path / "course")
    with Workspace(root, lessons=[LESSON], cell_timeout=60) as ws:
        released = read_notebook(ws.generate(LESSON))
        solved = copy.deepcopy(released)
        for cell in solved.cells:
            if cell.id == "double":
                cell.source = "def double(x):\n    return 2 * x"
            if cell.id == "mean-rows":
                cell.source = "def mean_rows(t):\n    return t.mean(dim=1)"
        edited = copy.deepcopy(solved)
        next(c for c in edited.cells if c.id == "experiment").source = "slow_result = 41"
        for student, nb in (("same", solved), ("edited", edited)):
            write_notebook(nb, tmp_path / f"{student}.ipynb")
            ws.submit(LESSON, student, tmp_path / f"{student}.ipynb")
        start = time.perf_counter()
        ws.autograde(LESSON, "same")
        assert time.perf_counter() - start < 120
        ws.autograde(LESSON, "edited")
        for student, expected in (("same", SKIPPED_SOURCE), ("edited", "slow_result = 41")):
            assert sum(s.score for s in ws.scores(LESSON, student)) == MAX_SCORE
            graded = read_notebook(ws.autograded_notebook(LESSON, student))
            assert next(c for c in graded.cells if c.id == "experiment").source == expected


@pytest.mark.notebooks
def test_a_tagged_test_cell_stops_grading_loudly(tmp_path):
    root = _course(tmp_path / "course", tag_cell="test-double")
    with Workspace(root, lessons=[LESSON]) as ws:
        ws.submit(LESSON, "someone", ws.generate(LESSON))
        with pytest.raises(NbgraderError, match="test-double is a test cell and must never be skipped"):
            ws.autograde(LESSON, "someone")


def test_names_local_to_a_function_or_comprehension_are_not_reads_of_the_notebook():
    names = cell_names(
        "def f(a, b=default):\n"
        "    name = a + outer\n"
        "    return [x * name for x in b]\n"
        "y = y + 1\n"
        "z = 3\n"
        "print(z, w)\n")
    assert names["reads"] >= {"default", "outer", "y", "w"}
    assert not names["reads"] & {"a", "b", "name", "x", "z"}
    assert names["binds"] == {"f", "y", "z"}


def test_only_module_level_seeding_of_shared_generators_is_global_state():
    names = cell_names(
        "import torch\n"
        "g = torch.Generator().manual_seed(0)\n"
        "def new(seed):\n"
        "    torch.manual_seed(seed)\n"
        "torch.manual_seed(1)\n")
    assert names["global_state"] == ["torch.manual_seed"]
