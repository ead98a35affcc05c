"""End to end through real nbgrader: every lesson builds to the committed student notebook, its
solution gets full marks, its blank version zero, and every mutant loses points."""
import csv
import os
import shutil
import subprocess
import sys

import pytest

from autograder import grading
from autograder.course import ROOT, lesson_names, notebook_path
from autograder.mutation import format_kill_table, run_mutants

LESSONS = lesson_names(ROOT)
pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module", params=LESSONS)
def validated(request):
    (check,) = grading.validate([request.param])
    return check


def test_lesson_is_in_sync_with_its_solution(validated):
    committed = notebook_path(validated.lesson, "lessons").read_text(encoding="utf-8")
    assert committed == validated.released_text, (
        f"lessons/{validated.lesson} is stale: run `python -m autograder build {validated.lesson}`")


def test_solution_full_marks_and_blank_zero(validated):
    assert validated.ok, "\n".join(validated.problems)
    auto = [s for s in validated.solution if s.auto]
    assert auto and all(s.score == s.max_score > 0 for s in auto)
    assert all(s.score == 0 for s in validated.blank if s.auto)
    # Reported, not a timed test: the budget is 60 s on an idle 2-core machine.
    print(f"{validated.lesson}: solution graded in {validated.solution_seconds:.1f} s")


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_mutant_is_rejected(lesson):
    results = run_mutants(lesson)
    print(format_kill_table(results))
    functions = {r.cell for r in results}
    for f in functions:
        assert sum(r.cell == f for r in results) >= 4, f"{lesson}: fewer than 4 mutants for {f}"
    survivors = [r.name for r in results if not r.rejected]
    assert not survivors, f"{lesson}: mutants that pass the tests: {survivors}"


def _cli(*args, cwd):
    # As a user runs it, from any folder; PYTHONPATH covers a checkout that is not pip-installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900, env=env)


def test_grade_command_writes_csv_and_feedback(tmp_path):
    lesson = LESSONS[0]
    subs = tmp_path / "submitted"
    solved = subs / "alice" / lesson
    solved.mkdir(parents=True)
    shutil.copy(notebook_path(lesson), solved / f"{lesson}.ipynb")
    blank = subs / "bob" / lesson
    blank.mkdir(parents=True)
    shutil.copy(notebook_path(lesson, "lessons"), blank / f"{lesson}.ipynb")
    (subs / "carol" / lesson).mkdir(parents=True)
    (subs / "carol" / lesson / "my-work.ipynb").write_text("{}")
    (subs / "dave").mkdir()
    (subs / "dave" / f"{lesson}.ipynb").write_text("{not json")
    from autograder.sandbox import bwrap_path, sandbox_works

    # grade refuses to run unsandboxed unless told so explicitly.
    unsafe = [] if sandbox_works(bwrap_path()) else ["--sandbox", "off"]
    proc = _cli("grade", str(subs), "--out", str(tmp_path / "out"), "--lesson", lesson, *unsafe, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "out" / "grades.csv"))}
    assert set(rows) == {"alice", "bob", "carol", "dave"}
    from autograder.notebooks import nbgrader_role, read_notebook

    written = sum(points for role, points in map(nbgrader_role, read_notebook(notebook_path(lesson)).cells)
                  if role == "manual")
    assert written > 0
    # Every automatic point; the written answers wait for an instructor.
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) - written
    assert rows["alice"]["needs_manual_grading"] == "yes" and rows["alice"]["status"] == "graded"
    assert float(rows["bob"]["score"]) == 0 and float(rows["bob"]["max_score"]) > 0
    assert rows["carol"]["status"].startswith("missing notebook") and "my-work.ipynb" in rows["carol"]["status"]
    assert rows["dave"]["status"].startswith("invalid notebook")
    for student in ("alice", "bob"):
        html = (tmp_path / "out" / "feedback" / student / lesson / f"{lesson}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "_reference_count" not in html


def test_selfcheck_reports_per_cell_scores(tmp_path):
    lesson = LESSONS[0]
    work = tmp_path / f"{lesson}.ipynb"
    shutil.copy(notebook_path(lesson, "lessons"), work)
    proc = _cli("selfcheck", str(work), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Autograded total: 0 /" in proc.stdout
    assert "failed: NotImplementedError" in proc.stdout
    assert "graded by an instructor" in proc.stdout
    bad = _cli("selfcheck", str(tmp_path / "nothing.ipynb"), cwd=tmp_path)
    assert bad.returncode == 2 and "no notebook" in bad.stderr
