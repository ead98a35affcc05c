"""The learner's own copy, work/: created from lessons/, never overwritten, a later lesson copied in
without touching the others, a fresh copy of one lesson with the old one kept; the self-check finds
a notebook there; building the lessons and the static tests neither read nor overwrite it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import inline, selfcheck, workcopy
from autograder.course import ROOT, lesson_names


def _course(tmp_path, lessons=("00-measuring", "01-distillation")) -> Path:
    """A minimal course folder: solutions/ and lessons/ of ``lessons``."""
    root = tmp_path / "course"
    for lesson in lessons:
        for kind in ("solutions", "lessons"):
            (root / kind / lesson).mkdir(parents=True)
            shutil.copy(ROOT / kind / lesson / f"{lesson}.ipynb", root / kind / lesson)
    return root


def _edit(path: Path, text: str = "# my answer\n") -> bytes:
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = text
    path.write_text(json.dumps(nb))
    return path.read_bytes()


def test_sync_creates_the_copy_then_never_overwrites_it(tmp_path):
    root = _course(tmp_path)
    copied = workcopy.sync(root)
    assert sorted(p.relative_to(root).as_posix() for p in copied) == [
        "work/00-measuring/00-measuring.ipynb", "work/01-distillation/01-distillation.ipynb"]
    mine = _edit(root / "work" / "00-measuring" / "00-measuring.ipynb")
    assert workcopy.sync(root) == []
    assert (root / "work" / "00-measuring" / "00-measuring.ipynb").read_bytes() == mine


def test_a_lesson_added_later_is_copied_in_without_touching_the_others(tmp_path):
    root = _course(tmp_path, lessons=("00-measuring",))
    workcopy.sync(root)
    mine = _edit(root / "work" / "00-measuring" / "00-measuring.ipynb")
    # The course gains lesson 02 (a git pull).
    for kind in ("solutions", "lessons"):
        (root / kind / "02-pruning").mkdir(parents=True)
        shutil.copy(ROOT / kind / "02-pruning" / "02-pruning.ipynb", root / kind / "02-pruning")
    copied = workcopy.sync(root)
    assert [p.relative_to(root).as_posix() for p in copied] == ["work/02-pruning/02-pruning.ipynb"]
    assert (root / "work" / "00-measuring" / "00-measuring.ipynb").read_bytes() == mine


def test_a_deleted_notebook_comes_back_and_nothing_else_changes(tmp_path):
    root = _course(tmp_path)
    workcopy.sync(root)
    mine = _edit(root / "work" / "01-distillation" / "01-distillation.ipynb")
    (root / "work" / "00-measuring" / "00-measuring.ipynb").unlink()
    assert [p.name for p in workcopy.sync(root)] == ["00-measuring.ipynb"]
    assert (root / "work" / "01-distillation" / "01-distillation.ipynb").read_bytes() == mine


def test_fresh_keeps_the_old_copy_aside(tmp_path):
    root = _course(tmp_path)
    workcopy.sync(root)
    nb = root / "work" / "00-measuring" / "00-measuring.ipynb"
    mine = _edit(nb)
    other = _edit(root / "work" / "01-distillation" / "01-distillation.ipynb")
    ((dest, moved),) = workcopy.fresh("00-measuring", root)
    assert dest == nb and nb.read_bytes() == (root / "lessons" / "00-measuring" / "00-measuring.ipynb").read_bytes()
    assert moved.parent == nb.parent and moved.name.startswith("00-measuring.before-")
    assert moved.read_bytes() == mine
    ((_, moved_again),) = workcopy.fresh("00-measuring", root)  # twice in the same second
    assert moved_again != moved and moved.read_bytes() == mine
    assert (root / "work" / "01-distillation" / "01-distillation.ipynb").read_bytes() == other
    with pytest.raises(ValueError, match="unknown lesson '02-nothing'"):
        workcopy.fresh("02-nothing", root)


def test_the_command_line(tmp_path, capsys):
    from autograder.cli import main

    work = tmp_path / "mywork"
    assert main(["workcopy", "--work", str(work)]) == 0
    assert sorted(p.name for p in work.iterdir()) == lesson_names(ROOT)
    capsys.readouterr()
    assert main(["workcopy", "--work", str(work)]) == 0 and capsys.readouterr().out == ""
    assert main(["fresh", lesson_names(ROOT)[0], "--work", str(work)]) == 0
    assert "your previous copy is now" in capsys.readouterr().out
    assert main(["fresh", "99-none", "--work", str(work)]) == 2
    assert "unknown lesson" in capsys.readouterr().err


def test_the_work_copy_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", "work/00-measuring/00-measuring.ipynb"],
                             cwd=ROOT, capture_output=True)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0, "work/ must be listed in .gitignore"


def test_the_in_notebook_self_check_finds_the_copy_in_work(tmp_path, monkeypatch):
    root = _course(tmp_path)
    workcopy.sync(root)
    folder = root / "work" / "00-measuring"
    nb = folder / "00-measuring.ipynb"
    monkeypatch.chdir(folder)  # Jupyter starts the kernel in the notebook's folder
    for session in (str(nb), "00-measuring/00-measuring.ipynb", ""):
        # Absolute (JupyterLab), relative to the server root (work/), or not set at all.
        monkeypatch.setenv("JPY_SESSION_NAME", session)
        assert inline.locate_notebook("00-measuring").resolve() == nb.resolve()
    # A copy kept aside by `make fresh` is still recognised as the lesson by selfcheck.
    aside = workcopy.aside_name(nb, "20260101-000000")
    assert selfcheck._lesson_of(aside, ROOT) == "00-measuring"


@pytest.mark.slow
def test_building_and_the_static_tests_leave_the_work_copy_alone(tmp_path):
    """In a copy of the course with a learner's work/ (an edited lesson with outputs, which the
    static tests would reject, and a file that is not a notebook at all): `autograder build`
    (make lessons) and the static tests pass, and every file in work/ is as it was."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "work", "artifacts", "__pycache__", ".pytest_cache", "*.egg-info"))
    workcopy.sync(course)
    mine = course / "work" / "00-measuring" / "00-measuring.ipynb"
    nb = json.loads(mine.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"] = "x = 42  # my answer"
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    code["execution_count"] = 1
    mine.write_text(json.dumps(nb))
    (course / "work" / "00-measuring" / "scratch.ipynb").write_text("{not a notebook")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (course / "work").rglob("*") if p.is_file()}
    env = dict(os.environ, PYTHONPATH=str(course))
    env.pop("PYTEST_ADDOPTS", None)
    build = subprocess.run([sys.executable, "-m", "autograder", "build", "00-measuring"], cwd=course,
                           env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    assert "work" not in build.stdout
    static = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider",
                             "tests/test_notebooks.py"], cwd=course, env=env,
                            capture_output=True, text=True, timeout=600)
    assert static.returncode == 0, static.stdout[-3000:]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert "work/" not in collected.stdout
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (course / "work").rglob("*") if p.is_file()}
    assert after == before
