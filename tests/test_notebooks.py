"""Static checks of the committed notebooks: fast, no kernel (the slow tests at the end run them)."""
import json
import os
import re
import shutil

import nbformat
import pytest

import fake_cuda
from autograder.course import ROOT, lesson_names, notebook_path
from autograder.execute import run_notebook
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


# ----------------------------------------------------------------------------------------------
# Devices: the lessons run on the CPU whatever GPU the learner's machine has.

_CUDA = re.compile(r"cuda")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_no_lesson_asks_for_a_gpu(path):
    """The lessons are written and checked on the CPU (mclib trains and measures there unless
    asked); a `.cuda()` or a "cuda" device in a lesson would make its results machine-dependent."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            hit = _CUDA.search(cell.source)
            assert not hit, f"cell {cell.get('id')} mentions CUDA ({hit.group(0)!r}): lessons run on the CPU"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_runs_where_cuda_is_present_but_unusable(lesson):
    """The whole solution notebook, with torch reporting a GPU that raises on any use
    (tests/fake_cuda.py): a hidden move of a model or tensor to CUDA anywhere in the lesson or in
    mclib fails here instead of on a learner's GPU laptop. Run with nbclient directly (no grading
    guard), with the test session's model cache."""
    run = run_notebook(notebook_path(lesson), startup=fake_cuda.SOURCE,
                       env={"MCLIB_CACHE": os.environ["MCLIB_CACHE"]}, timeout=300)
    assert run.ok, f"{lesson} failed with an unusable GPU present: {run.error}"
    print(f"{lesson}: ran in {run.seconds:.1f} s with a fake GPU present")


@pytest.mark.slow
@pytest.mark.notebooks
def test_distillation_solution_passes_when_the_zoo_trains_its_models_now(tmp_path):
    """Issue 15's cache-dependent verdict: with an empty cache and no shipped weights the zoo trains
    the teacher inside the lesson, and the lesson's own hidden tests (which check that the teacher
    gets no gradients) must still pass."""
    run = run_notebook(notebook_path("01-distillation"), timeout=300,
                       env={"MCLIB_CACHE": str(tmp_path), "MCLIB_SHIPPED_WEIGHTS": "0"})
    assert run.ok, run.error


@pytest.mark.notebooks
def test_the_unusable_gpu_fails_a_notebook_that_moves_to_it(tmp_path):
    """The harness of the test above can fail: the common "cuda when available" pattern breaks."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import torch\nassert torch.cuda.is_available()"),
                nbformat.v4.new_code_cell("device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
                                          "torch.nn.Linear(2, 2).to(device)")]
    path = tmp_path / "gpu.ipynb"
    nbformat.write(nb, str(path))
    run = run_notebook(path, startup=fake_cuda.SOURCE, timeout=120)
    assert not run.ok and "not usable" in run.error
    plain = run_notebook(path, timeout=120)  # without the startup file there is no GPU at all
    assert not plain.ok and "AssertionError" in plain.error


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_passes_nbgraders_own_validator_in_a_fresh_home(lesson, tmp_path, monkeypatch):
    """Issue 15: an instructor checking a source notebook with plain nbgrader (its Validator, with
    nbgrader's own output-based rule), on a machine whose HOME and model cache are empty, sees every
    test pass: no verdict may depend on what an earlier run left in the cache."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    for var, sub in [("HOME", "home"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                     ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
                     ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib"),
                     ("MCLIB_CACHE", "empty-model-cache")]:
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    folder = tmp_path / lesson
    shutil.copytree(notebook_path(lesson).parent, folder)
    config = Config()
    config.Execute.timeout = 300
    results = Validator(config=config).validate(str(folder / f"{lesson}.ipynb"))
    problems = [f"{kind}: {item.get('raw_error') or item.get('source', '')[:200]}"
                for kind, items in results.items() for item in items]
    assert not problems, f"{lesson} fails nbgrader's Validator in a fresh HOME:\n" + "\n".join(problems)
