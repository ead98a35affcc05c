"""Red team: attacks on the grader must score 0 or be flagged with the expected reason, and honest
answers that print, warn or are written differently must keep full marks. The whole tiny-lesson
class is graded in one ``grade_folder`` run (2 workers); docs/grading-security.md maps each case to
its threat. Each attack answers the exercises wrongly, so it would only score by defeating a check.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder import grading
from autograder.course import Workspace
from autograder.notebooks import read_notebook
from autograder.policy import check_source
from autograder.sandbox import bwrap_path, kernel_env, sandbox_works
from tiny_lesson import (HIDDEN_MARKER, LESSON, MAX_SCORE, _replace_cell, _solved, insert_cell_after,
                         make_course, release)

SANDBOX = sandbox_works(bwrap_path())
WRONG_DOUBLE = "def double(x):\n    return x\n"
WRONG_MEAN = "def mean_rows(t):\n    return t[:, 0]\n"
WRAP = ("def _wrap(lines):\n    return ['try:\\n'] + ['    ' + l for l in lines] + "
        "['\\nexcept BaseException:\\n    pass\\n']\n")

#: name -> (code put before the wrong answers, words the status must contain)
ATTACKS = {
    # issue 12's table
    "input-transformer": (WRAP + "get_ipython().input_transformers_post.append(_wrap)\n", "get_ipython"),
    "ast-transformer": ("import ast\nclass T(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
                        "        h = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])\n"
                        "        node.body = [ast.Try(body=node.body, handlers=[h], orelse=[], finalbody=[])]\n"
                        "        return ast.fix_missing_locations(node)\n"
                        "get_ipython().ast_transformers.append(T())\n", "get_ipython"),
    "run-cell": (WRAP + "ip = get_ipython()\n_orig = ip.run_cell_async\n"
                 "async def _run(raw, *a, **k):\n    k.pop('transformed_cell', None)\n"
                 "    src = ''.join(_wrap(raw.splitlines(True)))\n"
                 "    return await _orig(src, *a, transformed_cell=src, **k)\n"
                 "ip.run_cell_async = _run\nip.run_cell = lambda raw, *a, **k: None\n", "get_ipython"),
    "leak-raw-cell": ("get_ipython().events.register('pre_run_cell', lambda info: print(info.raw_cell))\n",
                      "get_ipython"),
    "print-environ": ("import os\nprint(dict(os.environ))\n", "os.environ"),
    # the machinery, by other ways in
    "custom-exc": ("get_ipython().set_custom_exc((AssertionError, Exception), lambda *a, **k: None)\n",
                   "get_ipython"),
    "excepthook": ("import sys\nsys.excepthook = lambda *a: None\nsys.displayhook = lambda v: None\n",
                   "sys.excepthook"),
    "settrace": ("import sys\ndef _t(frame, event, arg):\n    return None\nsys.settrace(_t)\n", "settrace"),
    "sys-modules": ("import sys, types\n_fake = types.ModuleType('torch')\n_fake.allclose = lambda *a, **k: True\n"
                    "sys.modules['torch'] = _fake\n", "sys.modules"),
    "meta-path": ("import sys\nclass F:\n    def find_spec(self, *a):\n        return None\n"
                  "sys.meta_path.insert(0, F())\n", "sys.meta_path"),
    "builtins-dict": ("import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\n", "builtins"),
    "builtins-global": ("__builtins__ = {'print': print}\n", "__builtins__"),
    "exec-obfuscated": ("exec('get_' + 'ipython().set_custom_exc((Exception,), lambda *a, **k: None)')\n",
                        "uses exec"),
    "getattr-dunder": ("import mclib.check\n_f = mclib.check.check_close\n"
                       "setattr(_f, '__co' + 'de__', (lambda *a, **k: None).__code__)\n", "dunder"),
    "frames": ("import sys\nsys._getframe(0).f_globals['torch'] = None\n", "sys._getframe"),
    "gc-walk": ("import gc\n_g = [o for o in gc.get_objects() if type(o).__name__ == 'Guard']\n", "imports gc"),
    "ctypes": ("import ctypes\n", "imports ctypes"),
    "thread": ("import threading, time, torch\ndef _p():\n    time.sleep(0.01)\n"
               "    torch.allclose = lambda *a, **k: True\nthreading.Thread(target=_p, daemon=True).start()\n",
               "threading"),
    "shell-command": ("!ls ../../..\n", "get_ipython"),
    "kernel-do-execute": ("k = get_ipython().kernel\nk.do_execute = None\n", "get_ipython"),
    "patch-library": ("import torch\ntorch.Tensor.allclose = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n",
                      "assigns to torch.allclose"),
    "setattr-module": ("import numpy as np\nsetattr(np, 'allclose', lambda *a, **k: True)\n", "setattr on np"),
    "function-mode": ("from torch.overrides import TorchFunctionMode\nclass M(TorchFunctionMode):\n"
                      "    def __torch_function__(self, f, t, a=(), k=None):\n        return True\nM().__enter__()\n",
                      "torch.overrides"),
    "open-outside": ("_s = open('/proc/self/environ', 'rb').read()\n", "files"),
    "subprocess": ("import subprocess\nsubprocess.run(['true'])\n", "imports subprocess"),
    "read-course": ("import glob\n_f = [open(p).read() for p in glob.glob('../../../solutions/*/*.ipynb')]\n", "'../../../solutions"),
}
#: answers that bring their own comparison: (source of double, source of mean_rows, status words)
OBJECT_ATTACKS = {
    "liar-eq": ("class L:\n    def __eq__(s, o):\n        return True\n    def __ne__(s, o):\n        return False\n"
                "def double(x):\n    return L()\n", WRONG_MEAN, "defines __eq__"),
    "tensor-subclass": ("import torch\nclass T(torch.Tensor):\n    @classmethod\n"
                        "    def __torch_function__(cls, f, t, a=(), k=None):\n        return True\n"
                        "def double(x):\n    return torch.as_tensor(x).as_subclass(T)\n",
                        "def mean_rows(t):\n    return t.as_subclass(T)\n", "tensor-subclass"),
    "ndarray-subclass": ("import numpy as np\nclass A(np.ndarray):\n    def __eq__(s, o):\n        return True\n"
                         "def double(x):\n    return np.zeros(1).view(A)\n", WRONG_MEAN, "subclasses a tensor"),
    "bool-override": ("class B:\n    def __bool__(s):\n        return True\n"
                      "def double(x):\n    return B()\n", WRONG_MEAN, "defines __bool__"),
}
#: honest answers that must keep full marks, status "graded"
FAIRNESS = {
    "warns": ("import warnings\ndef double(x):\n    warnings.warn('careful')\n    return 2 * x\n", None),
    "stderr": ("import sys\ndef double(x):\n    print('working', file=sys.stderr)\n    return 2 * x\n", None),
    "prints": ("def double(x):\n    print('doubling', x)\n    return 2 * x\n", None),
    "displays": ("def double(x):\n    return 2 * x\ndouble(21)\n", None),
    "tensor-copy-warning": ("import torch\ndef double(x):\n    if isinstance(x, torch.Tensor):\n"
                            "        return torch.tensor(x) * 2\n    return 2 * x\n", None),
    "different-but-correct": (None, "def mean_rows(t):\n    return t.sum(dim=1) / t.shape[1]\n"),
    "extra-imports": ("import math, itertools, collections\nfrom IPython.display import display\n"
                      "def double(x):\n    return x + x\n", None),
    "long-output": ("for i in range(3000):\n    print('epoch', i, 'loss', 1.0 / (i + 1))\n"
                    "def double(x):\n    return 2 * x\n", None),
    "time-magic": ("%time _ = sum(range(1000))\ndef double(x):\n    return 2 * x\n", None),
    "module-class": ("import torch\nclass Twice(torch.nn.Module):\n    def forward(self, x):\n        return 2 * x\n"
                     "    def __repr__(self):\n        return 'Twice()'\n"
                     "def double(x):\n    return Twice()(x) if isinstance(x, torch.Tensor) else 2 * x\n", None),
}
FLOOD = "for _ in range(200):\n    print('x' * 1_000_000)\n"


def _attack(released, prefix):
    nb = _replace_cell(read_notebook(released), "double", prefix + WRONG_DOUBLE)
    return _replace_cell(nb, "mean-rows", WRONG_MEAN)


def _write(folder: Path, student: str, nb) -> None:
    dest = folder / student / LESSON / f"{LESSON}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1))


@pytest.fixture(scope="module")
def red_team(tmp_path_factory):
    base = tmp_path_factory.mktemp("red")
    root = make_course(base / "course")
    released = release(root, base / "released.ipynb")
    subs = base / "class"
    for name, (prefix, _) in ATTACKS.items():
        _write(subs, name, _attack(released, prefix))
    for name, (double, mean, _) in OBJECT_ATTACKS.items():
        _write(subs, name, _replace_cell(_replace_cell(read_notebook(released), "double", double),
                                         "mean-rows", mean))
    for name, (double, mean) in FAIRNESS.items():
        nb = _solved(released)
        if double:
            _replace_cell(nb, "double", double)
        if mean:
            _replace_cell(nb, "mean-rows", mean)
        if name == "extra-imports":
            insert_cell_after(nb, "double", "import collections\ncounts = collections.Counter('abc')\ncounts")
        _write(subs, name, nb)
    _write(subs, "flood", insert_cell_after(_solved(released), "double", FLOOD))
    _write(subs, "fork-loop", insert_cell_after(_solved(released), "double",
                                                "import os\nfor _ in range(100):\n    if os.fork() == 0:\n"
                                                "        import time; time.sleep(30); os._exit(0)\n"))
    results = grading.grade_folder(subs, base / "out", root=root, workers=2, cell_timeout=30,
                                   memory_mb=2048, submission_timeout=240, pids=64)
    return {r.student: r for r in results}, base / "out"


def test_suite_is_broad_enough():
    assert len(ATTACKS) + len(OBJECT_ATTACKS) >= 25 and len(FAIRNESS) >= 8


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("name", sorted(ATTACKS) + sorted(OBJECT_ATTACKS))
def test_attack_scores_nothing_and_is_flagged(red_team, name):
    results, _ = red_team
    words = ATTACKS[name][1] if name in ATTACKS else OBJECT_ATTACKS[name][2]
    r = results[name]
    assert r.score == 0, r.status
    assert r.flagged and words in r.status, r.status


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("name", sorted(FAIRNESS))
def test_honest_answer_keeps_full_marks(red_team, name):
    results, out = red_team
    r = results[name]
    assert r.score == MAX_SCORE and r.status == "graded", r.status
    assert r.sandbox in ("bubblewrap", "off")
    html = (out / "feedback" / name / LESSON / f"{LESSON}.html").read_text()
    assert HIDDEN_MARKER not in html


@pytest.mark.slow
@pytest.mark.notebooks
def test_flood_is_graded_with_small_feedback_and_named_limit(red_team):
    results, out = red_team
    r = results["flood"]
    assert r.score == MAX_SCORE and "output limit" in r.status, r.status
    html = out / "feedback" / "flood" / LESSON / f"{LESSON}.html"
    assert html.stat().st_size < 3_000_000


@pytest.mark.slow
@pytest.mark.notebooks
def test_fork_loop_is_flagged_and_named(red_team):
    results, _ = red_team
    r = results["fork-loop"]
    assert r.score == 0 and "os.fork" in r.status, r.status


def test_policy_passes_every_solution_cell():
    from autograder.course import ROOT, lesson_names
    from autograder.release import policy_of_solutions

    for lesson in lesson_names(ROOT):
        assert policy_of_solutions(lesson) == [], lesson


def test_policy_sees_through_ipython_syntax():
    assert any(f.rule == "ipython" for f in check_source("!cat /etc/passwd"))
    assert any(f.rule == "ipython" for f in check_source("%env"))
    assert check_source("%time x = 1") == []
    assert any(f.rule == "dynamic-code" for f in check_source("%time exec('1')"))
    assert check_source("model.eval()\nsetattr(model, name, layer)\ngetattr(net, 'fc1')") == []


def test_kernel_environment_is_an_allow_list():
    env = kernel_env({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x", "MCLIB_VERDICT_KEY": "k",
                      "LC_ALL": "C", "MCLIB_GUARD_LOG": "/l", "HOME": "/h"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "MCLIB_GUARD_LOG": "/l", "HOME": "/h"}


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.skipif(not SANDBOX, reason="bubblewrap is not available or cannot create namespaces here")
def test_victim_after_saboteur_keeps_its_score(tmp_path):
    """A saboteur writes garbage into every file it can find of the grading folder (the guard's
    files, the profile, the kernelspec); the correct student graded next by the same worker keeps
    full marks."""
    root = make_course(tmp_path / "course")
    released = release(root, tmp_path / "released.ipynb")
    # Only inside the sandbox: without it the grading folder's gradebook is writable (README).
    sabotage = ("import os\nfor top in ['../../..', '../../../.home']:\n"
                "    for d, _, files in os.walk(top):\n        for f in files:\n"
                "            try:\n                open(os.path.join(d, f), 'w').write('garbage')\n"
                "            except OSError:\n                pass\n")
    _write(tmp_path / "class", "a-saboteur", insert_cell_after(_solved(released), "double", sabotage))
    _write(tmp_path / "class", "b-victim", _solved(released))
    results = {r.student: r for r in grading.grade_folder(
        tmp_path / "class", tmp_path / "out", root=root, workers=1, feedback=False, cell_timeout=30)}
    assert results["b-victim"].score == MAX_SCORE and results["b-victim"].status == "graded", \
        results["b-victim"].status
    assert results["a-saboteur"].flagged


# ---------------------------------------------------------------------------------------------
# Issue 12's and 18's rows on the real lesson 00 (one class, two workers).

L00 = "00-measuring"


@pytest.fixture(scope="module")
def lesson00(tmp_path_factory):
    from autograder.course import notebook_path

    base = tmp_path_factory.mktemp("l00")
    subs = base / "class"
    blank = None
    with Workspace(lessons=[L00]) as ws:
        blank = read_notebook(ws.generate(L00))
    solution = read_notebook(notebook_path(L00))
    # Nothing implemented, and every later cell wrapped in try/except (issue 12, row 1).
    _write_l00(subs, "transformer", insert_cell_after(blank, "count-parameters", WRAP +
                                                      "get_ipython().input_transformers_post.append(_wrap)"))
    # A correct solution whose graded function warns (issue 12, row 7).
    warn = read_notebook(notebook_path(L00))
    for cell in warn.cells:
        if cell.get("id") == "count-parameters":
            cell.source = "import warnings\n" + cell.source.replace(
                '    """Number of parameter values', '    warnings.warn("counting")\n    """Number of parameter values', 1)
    _write_l00(subs, "warns", warn)
    # A correct solution that prints 200 lines of 1,000,000 characters (issue 18, row 1).
    _write_l00(subs, "flood", insert_cell_after(solution, "count-parameters", FLOOD))
    results = grading.grade_folder(subs, base / "out", [L00], workers=2)
    return {r.student: r for r in results}, base / "out"


def _write_l00(folder: Path, student: str, nb) -> None:
    dest = folder / student / L00 / f"{L00}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1))


@pytest.mark.slow
@pytest.mark.notebooks
def test_lesson00_issue_rows(lesson00):
    results, out = lesson00
    assert results["transformer"].score == 0 and results["transformer"].flagged
    assert results["transformer"].raw_score == 0  # the wrapped tests did not pass either
    # Full automatic marks (the written answer waits for an instructor).
    full = sum(c.max_score for c in results["warns"].cells if c.auto)
    assert results["warns"].score == full and results["warns"].status == "graded", results["warns"].status
    flood = results["flood"]
    assert flood.score == full and "output limit" in flood.status, flood.status
    assert (out / "feedback" / "flood" / L00 / f"{L00}.html").stat().st_size < 8_000_000
