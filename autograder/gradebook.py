"""nbgrader's own gradebook as the record of a graded class, and the final table from it.

After ``grade``, the coordinator alone (SQLite has one writer) merges every graded submission into
the course's gradebook through nbgrader's ``Gradebook`` API: the assignment and its cells (created
by ``nbgrader generate_assignment --db URL``, so exactly as nbgrader records them), the student, the
submission, one auto score per autograded cell. The grading folder (``--out``) is laid out as an
nbgrader course folder (``autograded/``, ``feedback/``, ``solutions/``, ``nbgrader_config.py``),
so ``nbgrader formgrader`` started there lists every submission and the written answers can be
graded in it. What the autograder found is kept in the gradebook too: a flagged submission's
notebook is flagged (formgrader shows the flag) and the status is the automatic comment of the
submission's first commented cell.

``export`` reads the gradebook back: per student and lesson the autograded points, the points an
instructor gave (a manual score replaces the autograder's for its cell, as in nbgrader), extra
credit, the total, whether written answers still wait for grading, the flag and the status.

A gradebook on a server (``postgresql://user@host/db``) is used the same way: nbgrader opens any
SQLAlchemy URL.
"""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

from .course import CONFIG, ROOT, Workspace, check_lesson

__all__ = ["configured_db_url", "resolve_db_url", "merge", "export", "export_rows",
           "STATUS_PREFIX", "write_course_folder"]

STATUS_PREFIX = "autograder: "
EXPORT_COLUMNS = ["student_id", "lesson", "auto_points", "manual_points", "extra_credit", "total",
                  "max_score", "needs_manual_grading", "flagged", "status"]


def configured_db_url(config: Path = CONFIG) -> str:
    """The ``c.CourseDirectory.db_url`` of the course's nbgrader configuration."""
    m = re.search(r"""^c\.CourseDirectory\.db_url\s*=\s*["']([^"']+)["']""",
                  Path(config).read_text(), flags=re.M)
    if not m:
        raise ValueError(f"{config} sets no c.CourseDirectory.db_url")
    return m.group(1)


def resolve_db_url(folder: Path, url: str | None = None) -> str:
    """``url`` (default: the course config's) with a relative SQLite path made relative to
    ``folder``, the nbgrader course folder of the grading results."""
    url = url or configured_db_url()
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"a database URL looks like sqlite:///gradebook.db or "
                         f"postgresql://user@host/dbname, got {url!r}")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            url = f"sqlite:///{(Path(folder).resolve() / path)}"
    return url


def write_course_folder(folder: Path, lessons, root: Path = ROOT, url: str | None = None) -> None:
    """Make ``folder`` an nbgrader course folder formgrader can run in: the course config (with
    the gradebook at ``url``, see ``resolve_db_url``) and the lessons' source notebooks."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = CONFIG.read_text() + (
        "\n# Added by `python -m autograder grade`: this folder holds one graded class.\n"
        f"c.CourseDirectory.root = {str(folder.resolve())!r}\n"
        f"c.CourseDirectory.db_url = {resolve_db_url(folder, url)!r}\n")
    (folder / "nbgrader_config.py").write_text(config)
    for lesson in lessons:
        src = Path(root) / "solutions" / check_lesson(lesson, root)
        shutil.copytree(src, folder / "solutions" / lesson, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))


def merge(results, folder: Path, lessons, root: Path = ROOT, url: str | None = None) -> str:
    """Record ``results`` (SubmissionResults of a graded class, whose autograded notebooks are in
    ``folder/autograded``) in the gradebook at ``url`` (see ``resolve_db_url``); returns the URL.
    Merging again updates the auto scores and statuses and never touches what an instructor
    entered (manual scores, comments, extra credit)."""
    from nbgrader.api import Gradebook, MissingEntry

    lessons = [check_lesson(l, root) for l in lessons]
    url = resolve_db_url(folder, url)
    write_course_folder(folder, lessons, root, url)
    # The assignment and its cells as nbgrader itself records them (grade, solution and source
    # cells with checksums); --force --create updates an existing assignment in place.
    with Workspace(root, lessons=lessons, sandbox=False) as ws:
        for lesson in lessons:
            ws.nbgrader("generate_assignment", lesson, "--force", "--create", f"--db={url}")
    with Gradebook(url) as gb:
        for r in results:
            if r.lesson not in lessons:
                raise ValueError(f"result of lesson {r.lesson!r}, which is not among {lessons}")
            gb.update_or_create_student(r.student)
            try:
                gb.find_submission(r.lesson, r.student)
            except MissingEntry:
                gb.add_submission(r.lesson, r.student)
            nb = gb.find_submission_notebook(r.lesson, r.lesson, r.student)
            scores = {c.grade_id: c for c in r.cells}
            for grade in nb.grades:
                if grade.cell.cell_type != "code":
                    # Written answers: for an instructor; the auto score stays None.
                    grade.needs_manual_grade = grade.manual_score is None
                    continue
                cell = scores.get(grade.cell.name)
                # A submission that could not be graded earns nothing automatically.
                score = cell.score if cell is not None else 0.0
                changed = grade.auto_score != score
                grade.auto_score = score
                # As nbgrader's SaveAutoGrades: a new auto score under a manual one wants review.
                grade.needs_manual_grade = grade.manual_score is not None and (
                    changed or grade.needs_manual_grade)
            nb.flagged = r.flagged
            comments = sorted(nb.comments, key=lambda c: c.cell.name)
            if comments:
                comments[0].auto_comment = STATUS_PREFIX + r.status
            gb.db.commit()
    return url


def _status(nb) -> str:
    for c in sorted(nb.comments, key=lambda c: c.cell.name):
        if c.auto_comment and c.auto_comment.startswith(STATUS_PREFIX):
            return c.auto_comment[len(STATUS_PREFIX):]
    return ""


def export_rows(url: str) -> list[dict]:
    """One row per submission in the gradebook at ``url`` (see EXPORT_COLUMNS)."""
    from nbgrader.api import Gradebook

    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        # Gradebook() would create an empty database and export nothing.
        raise FileNotFoundError(f"no gradebook at {url[len('sqlite:///'):]}: grade the class "
                                f"first (python -m autograder grade SUBMISSIONS --out FOLDER)")

    rows = []
    with Gradebook(url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                auto = manual = extra = max_score = 0.0
                needs, flagged, status = False, False, []
                for nb in sub.notebooks:
                    for g in nb.grades:
                        max_score += g.max_score
                        if g.manual_score is not None:
                            manual += g.manual_score
                        elif g.auto_score is not None:
                            auto += g.auto_score
                        extra += g.extra_credit or 0.0
                        needs = needs or bool(g.needs_manual_grade)
                    flagged = flagged or bool(nb.flagged)
                    if _status(nb):
                        status.append(_status(nb))
                rows.append({"student_id": sub.student.id, "lesson": assignment.name,
                             "auto_points": auto, "manual_points": manual, "extra_credit": extra,
                             "total": auto + manual + extra, "max_score": max_score,
                             "needs_manual_grading": "yes" if needs else "no",
                             "flagged": "yes" if flagged else "no", "status": "; ".join(status)})
    return sorted(rows, key=lambda r: (r["student_id"], r["lesson"]))


def export(url: str, dest: Path) -> list[dict]:
    """Write the final table of the gradebook at ``url`` to the CSV file ``dest``."""
    rows = export_rows(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EXPORT_COLUMNS)
        for r in rows:
            w.writerow([f"{r[k]:g}" if isinstance(r[k], float) else r[k] for k in EXPORT_COLUMNS])
    return rows
