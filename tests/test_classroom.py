"""Class grading on Dask (autograder/classroom.py), nbgrader's gradebook as the record and the final
table (autograder/gradebook.py). Fast unit tests first; then a tiny class graded for real (with a
written answer an instructor grades through nbgrader's Gradebook API, as formgrader does)."""
from __future__ import annotations

import csv
import json
import os
import shutil

import pytest

from autograder import classroom, gradebook
from autograder.grading import GradingOptions
from autograder.notebooks import from_text, write_notebook
from autograder.skipcells import SKIPPED_SOURCE
from autograder.timings import split_seconds
from tiny_lesson import LESSON, MAX_SCORE, SOLUTION_TEXT, release, write_submission

# ---------------------------------------------------------------------------------------------
# Fast


def test_course_key_follows_the_sources_and_the_options():
    files = {"solutions/a/a.ipynb": b"1"}
    base = classroom.course_key(files, GradingOptions())
    assert classroom.course_key(dict(files), GradingOptions()) == base
    assert classroom.course_key({"solutions/a/a.ipynb": b"2"}, GradingOptions()) != base
    assert classroom.course_key(files, GradingOptions(cell_timeout=5)) != base


def test_journal_reads_back_its_own_course_and_ignores_a_cut_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    sub = classroom.Submission("ann", "99-tiny", b"{}")
    j = classroom.Journal(path, "k1")
    assert j.get(sub) is None
    j.add({"student": "ann", "lesson": "99-tiny", "sha256": sub.sha256, "status": "graded",
           "cells": [], "max_score": 5.0, "raw_score": None})
    with open(path, "a") as f:
        f.write('{"student": "bob", "lesson": "99-ti')  # an interrupted write
    assert classroom.Journal(path, "k1").get(sub)["status"] == "graded"
    assert classroom.Journal(path, "k2").get(sub) is None  # other sources or options
    assert classroom.Journal(path, "k1").get(classroom.Submission("ann", "99-tiny", b"{ }")) is None


def test_grade_class_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        classroom.grade_class(tmp_path, tmp_path / "o", root=_course(tmp_path / "c"), workers=0)
    with pytest.raises(ValueError, match="retries"):
        classroom.grade_class(tmp_path, tmp_path / "o", root=tmp_path / "c", retries=-1)
    with pytest.raises(ValueError, match="scheduler"):
        classroom.grade_class(tmp_path, tmp_path / "o", root=tmp_path / "c", scheduler=" ")
    with pytest.raises(FileNotFoundError):
        classroom.grade_class(tmp_path / "nowhere", tmp_path / "o", root=tmp_path / "c")


def test_db_url_from_the_course_config_relative_to_the_grading_folder(tmp_path):
    assert gradebook.configured_db_url() == "sqlite:///gradebook.db"
    assert gradebook.resolve_db_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/gradebook.db"
    pg = "postgresql://grader@db.example/course"
    assert gradebook.resolve_db_url(tmp_path, pg) == pg
    assert gradebook.resolve_db_url(tmp_path, "sqlite:////abs/g.db") == "sqlite:////abs/g.db"
    with pytest.raises(ValueError, match="database URL"):
        gradebook.resolve_db_url(tmp_path, "gradebook.db")
    with pytest.raises(FileNotFoundError, match="grade the class first"):
        gradebook.export_rows(gradebook.resolve_db_url(tmp_path))


def test_local_cluster_workers_run_without_dasks_own_monitoring(tmp_path, monkeypatch):
    import dask

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client, cluster = classroom._client(None, 1)
    try:
        seen = client.run(lambda: {key: dask.config.get(key) for key in classroom.QUIET_DASK})
        assert list(seen.values()) == [classroom.QUIET_DASK]
        # The scheduler runs in this process: its health check was set up with the quieter interval.
        tick = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.periodic_callbacks["tick"].callback_time)
        assert tick == 1000  # milliseconds
    finally:
        client.close()
        cluster.close()
    # Only the cluster was started with them: the coordinator's own configuration is unchanged.
    assert dask.config.get("distributed.worker.profile.enabled") is True


def test_seconds_split_into_graded_other_and_outside():
    def cell(kind, start, end, tags=(), source="x = 1"):
        meta = {"tags": list(tags), "execution": {}}
        if kind:
            meta["nbgrader"] = {kind: True}
        if start is not None:
            meta["execution"] = {"iopub.status.busy": f"2026-01-01T00:00:{start:02d}.000000Z",
                                 "shell.execute_reply": f"2026-01-01T00:00:{end:02d}.000000Z"}
        return {"cell_type": "code", "id": f"c{start}", "metadata": meta, "source": source}

    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    nb = {"cells": [cell(None, 2, 3), cell("solution", 3, 4), cell("grade", 4, 6),
                    cell(None, 6, 10, tags=["skip-in-grading"]),  # tagged, but this course ran it
                    cell(None, None, None, tags=["skip-in-grading"], source=SKIPPED_SOURCE),
                    {"cell_type": "markdown", "metadata": {}}]}
    split = split_seconds(nb, t0, t0 + 12)
    assert split == {"graded": 3.0, "other": 5.0, "outside": 4.0, "total": 12.0, "skipped_cells": 1}
    # The kernel's start, as the grading executor recorded it, is a part of the time outside cells.
    nb["metadata"] = {"autograder": {"kernel_start_seconds": 2.5}}
    assert split_seconds(nb, t0, t0 + 12)["kernel"] == 2.5
    for impossible in (5.0, -1, "2.5", True):  # more than outside, negative, not a number
        nb["metadata"]["autograder"]["kernel_start_seconds"] = impossible
        assert "kernel" not in split_seconds(nb, t0, t0 + 12)
    nb["metadata"]["autograder"] = "not a mapping"  # a submission's own metadata: ignored
    assert "kernel" not in split_seconds(nb, t0, t0 + 12)
    with pytest.raises(ValueError):
        split_seconds(nb, t0, t0 - 1)


@pytest.mark.parametrize("theirs", ["junk", {"kernel_start_seconds": 0.001}, None])
@pytest.mark.parametrize("measured", [None, 2.25])
def test_grading_executor_owns_the_autograder_metadata(monkeypatch, theirs, measured):
    """What a submission puts in the notebook's "autograder" metadata never survives grading nor
    breaks it: the executor removes it and writes only what it measured."""
    from nbformat.v4 import new_notebook
    from nbgrader.preprocessors import Execute

    from autograder.verdicts import GradingExecute

    def run_without_kernel(self, nb, resources=None, km=None):
        self._kernel_seconds = measured
        return nb, resources

    monkeypatch.setattr(Execute, "preprocess", run_without_kernel)
    nb = new_notebook(metadata={} if theirs is None else {"autograder": theirs})
    out, _ = GradingExecute().preprocess(nb, {})
    expected = None if measured is None else {"kernel_start_seconds": measured}
    assert out.metadata.get("autograder") == expected


# ---------------------------------------------------------------------------------------------
# A tiny class with a written answer, graded for real

WRITTEN = "why-double"
COURSE_TEXT = SOLUTION_TEXT + f"""# %% [markdown] id={WRITTEN} manual points=4
# Doubling is linear, so the test of one random tensor stands for all of them.
"""


def _course(root):
    write_notebook(from_text(COURSE_TEXT), root / "solutions" / LESSON / f"{LESSON}.ipynb")
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("classroom")
    root = _course(base / "course")
    released = release(root, base / "released.ipynb")
    for student, variant in [("ann", "solved"), ("bob", "partly-wrong"), ("cid", "patch-allclose"),
                             ("dee", "blank"), ("eve", "invalid-json")]:
        write_submission(base / "class", student, variant, released)
    opts = GradingOptions(feedback=True, cell_timeout=20, memory_mb=2048, submission_timeout=240)
    first = classroom.grade_class(base / "class", base / "out", root=root, opts=opts, workers=2)
    csv_first = (base / "out" / "grades.csv").read_bytes()
    again = classroom.grade_class(base / "class", base / "out", root=root, opts=opts, workers=2)
    url = gradebook.merge(first.results, base / "out", [LESSON], root=root)
    return dict(base=base, root=root, first=first, again=again, csv_first=csv_first, url=url)


@pytest.mark.slow
@pytest.mark.notebooks
def test_class_is_graded_and_a_second_run_regrades_nothing(graded):
    first, again = graded["first"], graded["again"]
    by = {r.student: r for r in first.results}
    assert by["ann"].score == MAX_SCORE and by["ann"].needs_manual
    assert by["bob"].score == 2 and by["cid"].flagged and by["cid"].score == 0
    assert by["eve"].status.startswith("invalid notebook")
    # The invalid notebook too is a result of a worker (nothing else could be read from it).
    assert first.graded_now == 5 and first.reused == 0 and first.failed == 0
    assert again.graded_now == 0 and again.reused == 5
    assert (graded["base"] / "out" / "grades.csv").read_bytes() == graded["csv_first"]
    html = (graded["base"] / "out" / "feedback" / "ann" / LESSON / f"{LESSON}.html").read_text()
    assert "double" in html
    entries = [json.loads(l) for l in (graded["base"] / "out" / "journal.jsonl").read_text().splitlines()]
    assert sorted(e["student"] for e in entries) == ["ann", "bob", "cid", "dee", "eve"]
    assert all(e["timings"]["total"] > 0 for e in entries)
    # Each run that reached its kernel says how long the kernel took to start, within its time.
    ran = [e["timings"] for e in entries if "graded" in e["timings"]]
    assert len(ran) == 4 and all(0 < t["kernel"] < t["outside"] for t in ran)


@pytest.mark.slow
@pytest.mark.notebooks
def test_gradebook_holds_the_class_and_export_adds_the_manual_score(graded):
    from nbgrader.api import Gradebook

    out, url = graded["base"] / "out", graded["url"]
    # formgrader reads the autograded notebooks of the course folder and the gradebook it names.
    assert (out / "autograded" / "ann" / LESSON / f"{LESSON}.ipynb").is_file()
    assert repr(url) in (out / "nbgrader_config.py").read_text()
    with Gradebook(url) as gb:
        assert sorted(s.student.id for s in gb.find_assignment(LESSON).submissions) == [
            "ann", "bob", "cid", "dee", "eve"]
        assert gb.find_submission_notebook(LESSON, LESSON, "cid").flagged
        # What formgrader does when an instructor grades a written answer.
        grade = gb.find_grade(WRITTEN, LESSON, LESSON, "ann")
        assert grade.auto_score is None and grade.needs_manual_grade
        grade.manual_score = 3.5
        grade.needs_manual_grade = False
        gb.db.commit()
    rows = {r["student_id"]: r for r in csv.DictReader(open(_export(out, url)))}
    ann, bob, cid = rows["ann"], rows["bob"], rows["cid"]
    assert (ann["auto_points"], ann["manual_points"], ann["total"]) == ("5", "3.5", "8.5")
    assert ann["max_score"] == "9" and ann["needs_manual_grading"] == "no"
    assert bob["total"] == "2" and bob["needs_manual_grading"] == "yes"
    assert cid["flagged"] == "yes" and cid["status"].startswith("flagged: ") and "torch.allclose" in cid["status"]
    assert rows["eve"]["status"].startswith("invalid notebook") and rows["eve"]["total"] == "0"
    # Merging again (a regrade) keeps what the instructor entered.
    gradebook.merge(graded["first"].results, out, [LESSON], root=graded["root"])
    rows = {r["student_id"]: r for r in csv.DictReader(open(_export(out, url)))}
    assert rows["ann"]["total"] == "8.5"


def _export(out, url):
    gradebook.export(url, out / "final.csv")
    return out / "final.csv"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.skipif(not os.environ.get("MCLIB_TEST_POSTGRES_URL"),
                    reason="set MCLIB_TEST_POSTGRES_URL to an empty PostgreSQL database "
                           "(postgresql://user@/db?host=/socket/dir) to test a server gradebook")
def test_a_postgresql_gradebook_holds_the_same_class(graded):
    url = os.environ["MCLIB_TEST_POSTGRES_URL"]
    out = graded["base"] / "out-pg"
    shutil.copytree(graded["base"] / "out", out)
    assert gradebook.merge(graded["first"].results, out, [LESSON], root=graded["root"], url=url) == url
    pg_rows = gradebook.export_rows(url)
    sqlite_rows = gradebook.export_rows(gradebook.resolve_db_url(graded["base"] / "out"))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("manual_points", "total",
                                                                    "needs_manual_grading")} for r in rows]
    assert strip(pg_rows) == strip(sqlite_rows) and len(pg_rows) == 5
