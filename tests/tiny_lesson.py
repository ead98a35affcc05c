"""A tiny synthetic lesson (99-tiny) and submissions of it, for fast tests of the grading machinery.

Real lessons take 10-60 s each to grade; this one takes a kernel start and a few milliseconds, so
tests of tampering, bad submissions, determinism and parallel grading stay cheap. The benchmark
(benchmarks/grading_throughput.py) uses it too.
"""
from __future__ import annotations

import json
from pathlib import Path

from autograder.notebooks import from_text, read_notebook, write_notebook

LESSON = "99-tiny"
#: A string only the hidden tests contain: it must never appear in feedback.
HIDDEN_MARKER = "SECRET-HIDDEN-MARKER"

SOLUTION_TEXT = f'''# %% [markdown] id=intro
# # Lesson 99: a tiny lesson for testing the grader
# %% id=setup
import random

import numpy as np
import torch
from mclib.check import check_close, check_equal
# %% id=double solution
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
# %% id=test-double tests points=2
check_equal(double(3), 6, "double(3)")
### BEGIN HIDDEN TESTS
_x = torch.randn(5)
assert torch.allclose(double(_x), _x * 2), "double of a random tensor"
### END HIDDEN TESTS
# %% id=mean-rows solution
def mean_rows(t):
    ### BEGIN SOLUTION
    return t.mean(dim=1)
    ### END SOLUTION
# %% id=test-mean-rows tests points=3
_t = torch.arange(12.0).reshape(4, 3)
check_close(mean_rows(_t), torch.tensor([1.0, 4.0, 7.0, 10.0]), "mean_rows of a 4x3 tensor")
### BEGIN HIDDEN TESTS
# {HIDDEN_MARKER}
_u = torch.rand(2, 7)
check_close(mean_rows(_u), _u.sum(1) / 7, "mean_rows of a random 2x7 tensor")
### END HIDDEN TESTS
'''

MAX_SCORE = 5.0


def make_course(root: Path) -> Path:
    """A course root holding only solutions/99-tiny/99-tiny.ipynb; returns the root."""
    root = Path(root)
    write_notebook(from_text(SOLUTION_TEXT), root / "solutions" / LESSON / f"{LESSON}.ipynb")
    return root


def _replace_cell(nb, cell_id: str, source: str):
    for cell in nb.cells:
        if cell.get("id") == cell_id:
            cell.source = source
            return nb
    raise KeyError(cell_id)


def _insert_after(nb, cell_id: str, source: str):
    import nbformat

    idx = next(i for i, c in enumerate(nb.cells) if c.get("id") == cell_id)
    new = nbformat.v4.new_code_cell(source)
    new.id = f"student-{len(nb.cells)}"
    nb.cells.insert(idx + 1, new)
    return nb


def _solved(released: Path):
    """The released (student) notebook with both exercises answered correctly."""
    nb = read_notebook(released)
    _replace_cell(nb, "double", "def double(x):\n    return 2 * x")
    _replace_cell(nb, "mean-rows", "def mean_rows(t):\n    return t.mean(dim=1)")
    return nb


#: name -> (what it does, function(released notebook path) -> notebook or raw text).
#: Expected outcomes are in the tests; the kinds below are what the benchmark mixes.
def _variant_solved(p):
    return _solved(p)


def _variant_blank(p):
    return read_notebook(p)


def _variant_partly_wrong(p):
    # double is right; mean_rows averages over the wrong axis.
    return _replace_cell(_solved(p), "mean-rows", "def mean_rows(t):\n    return t.mean(dim=0)")


def _variant_hidden_fail(p):
    # Passes the visible test (a 4x3 tensor) and fails the hidden one.
    return _replace_cell(_solved(p), "mean-rows", "def mean_rows(t):\n"
                         "    return t.mean(dim=1) if tuple(t.shape) == (4, 3) else t.sum(1)")


def _variant_random(p):
    # Right or wrong depending on an unseeded-looking random draw: deterministic only because the
    # grader seeds every random source before the notebook runs.
    nb = _replace_cell(_solved(p), "double", "import random\n\ndef double(x):\n"
                       "    return 2 * x if random.random() < 0.5 else 3 * x\n")
    return _replace_cell(nb, "mean-rows", "import numpy as np\n\ndef mean_rows(t):\n"
                         "    return t.mean(dim=1) + (1.0 if np.random.rand() < 0.5 else 0.0)\n")


# Each tampering variant would gain points if the tampering worked: its answers are wrong in a way
# only the patched comparison lets through.
_WRONG_DOUBLE = "def double(x):\n    return 6 if isinstance(x, int) and x == 3 else x\n"
_WRONG_MEAN = "def mean_rows(t):\n    return t[:, 0]\n"


def _tampered(p, double_prefix: str = "", mean_prefix: str = ""):
    nb = _replace_cell(read_notebook(p), "double", double_prefix + _WRONG_DOUBLE)
    return _replace_cell(nb, "mean-rows", mean_prefix + _WRONG_MEAN)


def _variant_patch_allclose(p):
    return _tampered(p, "import torch\ntorch.allclose = lambda *a, **k: True\n")


def _variant_patch_check(p):
    return _tampered(p, mean_prefix="import mclib.check\nmclib.check.check_close = lambda *a, **k: None\n"
                     "from mclib.check import check_close\n")


def _variant_patch_code(p):
    # Swaps the helper's code object: same function object, different behaviour.
    return _tampered(p, mean_prefix="import mclib.check\n"
                     "mclib.check.check_close.__code__ = (lambda *a, **k: None).__code__\n")


def _variant_redefine_helper(p):
    return _tampered(p, mean_prefix="def check_close(*args, **kwargs):\n    pass\n\n")


def _variant_patch_builtin(p):
    return _tampered(p, "import builtins\n_real_isinstance = isinstance\n"
                     "builtins.isinstance = lambda obj, cls: True if cls is int else _real_isinstance(obj, cls)\n")


def _variant_patch_tensor(p):
    return _tampered(p, "import torch\ntorch.Tensor.any = lambda self, *a, **k: False\n"
                     "torch.allclose = lambda *a, **k: True\n")


def _variant_unhook(p):
    # Removes the grader's hooks, then patches torch: the missing heartbeat gives it away.
    return _tampered(p, "ip = get_ipython()\n"
                     "for ev in ('pre_run_cell', 'post_run_cell'):\n"
                     "    ip.events.callbacks[ev].clear()\n"
                     "import torch\ntorch.Tensor.any = lambda self, *a, **k: False\n"
                     "torch.allclose = lambda *a, **k: True\n")


def _variant_read_solutions(p):
    # Looks for the instructor's notebook and the gradebook above its own folder.
    return _replace_cell(_solved(p), "mean-rows",
                         "import glob, os\n"
                         "found = []\n"
                         "for pattern in ('../../../solutions/*/*.ipynb', '../../../gradebook.db',\n"
                         "                '../../../../solutions/*/*.ipynb'):\n"
                         "    for f in glob.glob(pattern):\n"
                         "        try:\n"
                         "            found.append(open(f, 'rb').read()[:10])\n"
                         "        except OSError:\n"
                         "            pass\n"
                         "def mean_rows(t):\n    return t.mean(dim=1)")


def _variant_edit_grade_cell(p):
    nb = _solved(p)
    _replace_cell(nb, "mean-rows", "def mean_rows(t):\n    return t")
    return _replace_cell(nb, "test-mean-rows", "pass")


def _variant_delete_grade_cell(p):
    nb = _solved(p)
    _replace_cell(nb, "mean-rows", "def mean_rows(t):\n    return t")
    nb.cells = [c for c in nb.cells if c.get("id") != "test-mean-rows"]
    return nb


def _variant_delete_cells(p):
    # Deletes the setup cell (the imports the tests need) and a solution cell.
    nb = _solved(p)
    nb.cells = [c for c in nb.cells if c.get("id") not in ("setup", "mean-rows")]
    return nb


def _variant_raises(p):
    return _replace_cell(_solved(p), "double", "raise ValueError('I give up')")


def _variant_infinite_loop(p):
    return _replace_cell(_solved(p), "double", "while True:\n    pass")


def _variant_unstoppable(p):
    # Swallows the interrupt that stops a cell at its time limit: only the whole-submission
    # time limit ends it.
    return _replace_cell(_solved(p), "double", "while True:\n    try:\n        while True:\n"
                         "            pass\n    except KeyboardInterrupt:\n        pass")


def _variant_memory_hog(p):
    return _replace_cell(_solved(p), "double", "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))")


def _variant_invalid_json(p):
    return "{this is not json"


VARIANTS = {
    "solved": _variant_solved,
    "blank": _variant_blank,
    "partly-wrong": _variant_partly_wrong,
    "random": _variant_random,
    "hidden-fail": _variant_hidden_fail,
    "patch-allclose": _variant_patch_allclose,
    "patch-check": _variant_patch_check,
    "patch-code": _variant_patch_code,
    "redefine-helper": _variant_redefine_helper,
    "patch-builtin": _variant_patch_builtin,
    "patch-tensor": _variant_patch_tensor,
    "unhook": _variant_unhook,
    "read-solutions": _variant_read_solutions,
    "edit-grade-cell": _variant_edit_grade_cell,
    "delete-grade-cell": _variant_delete_grade_cell,
    "delete-cells": _variant_delete_cells,
    "raises": _variant_raises,
    "infinite-loop": _variant_infinite_loop,
    "memory-hog": _variant_memory_hog,
    "unstoppable": _variant_unstoppable,
    "invalid-json": _variant_invalid_json,
}


def write_submission(folder: Path, student: str, variant: str, released: Path) -> Path:
    """Write ``variant`` of the lesson as ``folder/<student>/99-tiny/99-tiny.ipynb``."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    dest = Path(folder) / student / LESSON / f"{LESSON}.ipynb"
    made = VARIANTS[variant](Path(released))
    if isinstance(made, str):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(made)
    else:
        # Written as plain JSON (not canonical_text, which validates) so odd notebooks stay odd.
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(made, indent=1))
    return dest
