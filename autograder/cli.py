"""The course's grading command line: ``python -m autograder COMMAND``.

  build     [LESSON ...]                  generate lessons/ (student notebooks) from solutions/
  validate  [LESSON ...]                  solutions get full marks, blank lessons get zero
  grade     SUBMISSIONS [--out DIR]       autograde a folder of students into grades.csv + feedback
            [--workers N | --scheduler A] on Dask (local processes or a running cluster), sandboxed,
            [--timeout S] [--db URL]      time- and memory-limited; recorded in nbgrader's gradebook
  export    [--out DIR] [--db URL]        the final table from the gradebook: auto + manual points
  selfcheck NOTEBOOK                      grade one notebook locally, per-cell table with hints
  mutants   [LESSON ...]                  run the wrong implementations; print the kill table
  workcopy                                copy lessons missing from work/ (the learner's copy)
  fresh     LESSON                        a clean copy of one lesson in work/ (old one kept aside)

Every command runs nbgrader in a temporary course folder, never in the repository.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import grading
from .course import ROOT, lesson_names


def _lessons(names):
    known = lesson_names(ROOT)
    for n in names:
        if n not in known:
            raise SystemExit(f"unknown lesson {n!r}; the lessons are: {', '.join(known)}")
    return names or known


def cmd_build(args) -> int:
    for path in grading.build(_lessons(args.lessons), out=args.out):
        print(f"wrote {path}")
    return 0


def cmd_validate(args) -> int:
    failed = 0
    for check in grading.validate(_lessons(args.lessons)):
        auto_sol = [s for s in check.solution if s.auto]
        auto_blank = [s for s in check.blank if s.auto]
        print(f"{check.lesson}: solution {sum(s.score for s in auto_sol):g}/"
              f"{sum(s.max_score for s in auto_sol):g} in {check.solution_seconds:.1f} s; blank "
              f"{sum(s.score for s in auto_blank):g}/{sum(s.max_score for s in auto_blank):g}; "
              f"{len(check.solution) - len(auto_sol)} manually graded cell(s) -> "
              f"{'OK' if check.ok else 'FAILED'}")
        for p in check.problems:
            print(f"  - {p}")
        failed += not check.ok
    return 1 if failed else 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def cmd_grade(args) -> int:
    from . import gradebook
    from .classroom import grade_class
    from .sandbox import bwrap_path, sandbox_works

    if args.sandbox == "off":
        sandbox = False
        print("grade: --sandbox off: kernels run as your user, with your files and the network "
              "reachable; grade only trusted submissions this way", file=sys.stderr)
    else:
        # Untrusted code is never run unsandboxed by default.
        if not sandbox_works(bwrap_path()):
            print("grade: bubblewrap (bwrap) is missing or cannot create namespaces here, so the "
                  "submissions cannot be sandboxed. Install it (apt-get install bubblewrap), or "
                  "pass --sandbox off to grade without the sandbox (unsafe for untrusted work).",
                  file=sys.stderr)
            return 2
        sandbox = True
    lessons = _lessons(args.lesson or [])
    try:
        opts = grading.GradingOptions(
            not args.no_feedback, args.timeout, args.cell_timeout, args.memory_mb, sandbox,
            cpu_seconds=args.cpu_seconds, pids=args.max_processes, output_kb=args.output_kb,
            notebook_output_kb=args.notebook_output_kb, disk_mb=args.disk_mb)
        if args.db:
            gradebook.resolve_db_url(Path(args.out), args.db)  # a bad URL fails before grading
        run = grade_class(Path(args.submissions), Path(args.out), lessons, opts=opts,
                          workers=args.workers, scheduler=args.scheduler,
                          progress=not args.no_progress)
    except (FileNotFoundError, RuntimeError, ValueError, OSError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted; kernels and temporary folders were removed, and what was "
              "graded is kept in the journal: run the same command to go on", file=sys.stderr)
        return 130
    for r in run.results:
        print(f"{r.student:20s} {r.lesson:26s} {r.score:6g} / {r.max_score:<6g} {r.status}")
    print(f"graded {run.graded_now} submission(s) now, {run.reused} from an earlier run "
          f"(journal), {run.failed} failed")
    print(f"wrote {Path(args.out) / 'grades.csv'}"
          + ("" if args.no_feedback else f" and feedback in {Path(args.out) / 'feedback'}"))
    if not args.no_gradebook:
        graded_lessons = sorted({r.lesson for r in run.results})
        url = gradebook.merge(run.results, Path(args.out), graded_lessons, url=args.db)
        print(f"recorded in the gradebook {_safe_url(url)}; written answers: "
              f"cd {args.out} && jupyter lab, then Nbgrader > Formgrader")
    return 0


def _safe_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def cmd_export(args) -> int:
    from . import gradebook

    try:
        url = gradebook.resolve_db_url(Path(args.out), args.db)
        dest = Path(args.to) if args.to else Path(args.out) / "final.csv"
        rows = gradebook.export(url, dest)
    except (ValueError, OSError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    for r in rows:
        print(f"{r['student_id']:20s} {r['lesson']:26s} auto {r['auto_points']:6g} + manual "
              f"{r['manual_points']:6g} = {r['total']:6g} / {r['max_score']:<6g} {r['status']}")
    print(f"wrote {dest}")
    return 0


def cmd_selfcheck(args) -> int:
    try:
        lesson, rows = grading.selfcheck(Path(args.notebook))
    except (ValueError, FileNotFoundError) as exc:
        print(f"selfcheck: {exc}", file=sys.stderr)
        return 2
    print(grading.format_scores(lesson, rows))
    return 0


def cmd_mutants(args) -> int:
    from .mutation import format_kill_table, mutant_files, run_mutants

    available = mutant_files(ROOT)
    lessons = [l for l in _lessons(args.lessons) if l in available]
    results = [r for lesson in lessons for r in run_mutants(lesson)]
    print(format_kill_table(results))
    return 0 if results and all(r.rejected for r in results) else 1


def cmd_workcopy(args) -> int:
    from . import workcopy

    for path in workcopy.sync(work=args.work):
        print(f"copied {path}")
    return 0


def cmd_fresh(args) -> int:
    from . import workcopy

    try:
        done = workcopy.fresh(args.lesson, work=args.work)
    except ValueError as exc:
        print(f"fresh: {exc}", file=sys.stderr)
        return 2
    for dest, moved in done:
        print(f"fresh copy: {dest}" + (f" (your previous copy is now {moved.name})" if moved else ""))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="generate the student lessons from the solutions")
    p.add_argument("lessons", nargs="*")
    p.add_argument("--out", type=Path, default=None, help="folder to write into (default lessons/)")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("validate", help="solutions full marks, blank lessons zero")
    p.add_argument("lessons", nargs="*")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("grade", help="autograde a folder of submissions")
    p.add_argument("submissions", help="folder of <student>/<lesson>/<lesson>.ipynb")
    p.add_argument("--out", default="grades", help="output folder (default ./grades)")
    p.add_argument("--lesson", action="append", help="grade only this lesson (repeatable)")
    p.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    p.add_argument("--workers", type=_positive_int, default=grading.default_workers(),
                   help="local Dask worker processes grading in parallel, each with its own "
                        "workspace (default: the number of CPU cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="grade on a running Dask cluster (e.g. tcp://10.0.0.5:8786) instead of "
                        "local workers")
    p.add_argument("--db", default=None, metavar="URL",
                   help="the nbgrader gradebook to record the class in (default: the course "
                        "config's, sqlite:///gradebook.db in the --out folder)")
    p.add_argument("--no-gradebook", action="store_true",
                   help="do not record the results in the nbgrader gradebook")
    p.add_argument("--timeout", type=_positive_int, default=600,
                   help="seconds one submission may take in all (default 600)")
    p.add_argument("--cell-timeout", type=_positive_int, default=None,
                   help="seconds one cell may take (default: the course's 120)")
    p.add_argument("--memory-mb", type=_positive_int, default=4096,
                   help="memory (address space) of one grading kernel, in MiB (default 4096)")
    p.add_argument("--sandbox", choices=["on", "require", "off"], default="on",
                   help="run kernels under bubblewrap (on, the default: refuse to grade without "
                        "it; require: the same) or not at all (off: only for trusted work)")
    p.add_argument("--cpu-seconds", type=_positive_int, default=1800,
                   help="CPU time one grading kernel may use, all threads together (default 1800)")
    p.add_argument("--max-processes", type=_positive_int, default=256,
                   help="processes and threads one grading kernel may have (default 256)")
    p.add_argument("--output-kb", type=_positive_int, default=1000,
                   help="output kept per cell, in kB; the rest is dropped (default 1000)")
    p.add_argument("--notebook-output-kb", type=_positive_int, default=5000,
                   help="output kept per notebook, in kB (default 5000)")
    p.add_argument("--disk-mb", type=_positive_int, default=512,
                   help="largest file and size of the private /tmp of a kernel, MiB (default 512)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("export", help="the final table from the gradebook: auto + manual points")
    p.add_argument("--out", default="grades", help="the grading folder of `grade` (default ./grades)")
    p.add_argument("--db", default=None, metavar="URL", help="the gradebook (default: as `grade`)")
    p.add_argument("--to", default=None, help="CSV file to write (default OUT/final.csv)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("selfcheck", help="grade one notebook locally with the hidden tests")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_selfcheck)
    p = sub.add_parser("mutants", help="run the wrong implementations; print the kill table")
    p.add_argument("lessons", nargs="*")
    p.set_defaults(func=cmd_mutants)
    p = sub.add_parser("workcopy", help="copy the lessons work/ lacks (never overwrites)")
    p.add_argument("--work", type=Path, default=None, help="the learner's folder (default work/)")
    p.set_defaults(func=cmd_workcopy)
    p = sub.add_parser("fresh", help="a clean copy of one lesson in work/, the old one kept aside")
    p.add_argument("lesson")
    p.add_argument("--work", type=Path, default=None, help="the learner's folder (default work/)")
    p.set_defaults(func=cmd_fresh)
    args = parser.parse_args(argv)
    return args.func(args)
