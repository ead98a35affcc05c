"""Grading throughput on Dask, serial against parallel, and where one submission's seconds go.

Grades a class of real lesson submissions (the solution, the blank lesson and a partly answered
one, in turn) three times in one run, on temporary copies of the course:

1. "before": serially (a local cluster of one worker), as grading worked before issue 13's
   changes: every experiment cell runs, and each nbgrader command is a fresh Python process
   (MCLIB_NBGRADER_FORK=0);
2. "after": serially, with the experiment cells tagged skip-in-grading skipped (the lesson's own
   tags, or where a lesson has none yet, the cells autograder.skipcells.skippable_cells proposes,
   tagged on the copy only) and nbgrader forked from a warm process (autograder/forkrun.py); the
   scores must equal the "before" ones;
3. "parallel": as "after" on a local cluster of --workers workers: the throughput ratio
   after/parallel, and whether the two grades.csv are identical.

For each lesson it prints the seconds of one submission split into kernel start (from launching the
grading kernel to its first reply, as the grading executor measured it in each run), graded cells
(solutions and tests), other cells, and nbgrader's overhead (the rest), before and after, with the
floor (kernel start + graded cells).

    python benchmarks/grading_throughput.py [--lessons 00-measuring 05-low-rank] [--students 3]
                                            [--workers 2]
    python benchmarks/grading_throughput.py --tiny [--submissions 40]   # the synthetic lesson

A script, not a test: the numbers depend on the machine and its load (printed with them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from autograder import grading  # noqa: E402
from autograder.classroom import grade_class  # noqa: E402
from autograder.course import ROOT, lesson_names, notebook_path  # noqa: E402
from autograder.notebooks import read_notebook, write_notebook  # noqa: E402
from autograder.skipcells import SKIP_TAG, skippable_cells  # noqa: E402

def copy_course(dest: Path, lessons, tags: str) -> tuple[Path, dict]:
    """A course root with ``lessons``; tags: "none" strips every skip tag, "skip" keeps the
    lesson's own or, where it has none, tags the proposed cells. Returns (root, tagged ids)."""
    tagged = {}
    for lesson in lessons:
        nb = read_notebook(notebook_path(lesson))
        own = [c.id for c in nb.cells if SKIP_TAG in c.get("metadata", {}).get("tags", [])]
        chosen = [] if tags == "none" else (own or skippable_cells(nb))
        for cell in nb.cells:
            cell_tags = [t for t in cell.get("metadata", {}).get("tags", []) if t != SKIP_TAG]
            if cell.get("id") in chosen:
                cell_tags.append(SKIP_TAG)
            if cell_tags:
                cell.metadata["tags"] = cell_tags
            else:
                cell.get("metadata", {}).pop("tags", None)
        write_notebook(nb, notebook_path(lesson, "solutions", dest))
        tagged[lesson] = chosen
    return dest, tagged


def write_class(folder: Path, lessons, students: int) -> int:
    n = 0
    for i in range(students):
        kind = ("full", "blank", "partial")[i % 3]
        for lesson in lessons:
            if kind == "full":
                nb = read_notebook(notebook_path(lesson))
            else:
                nb = read_notebook(notebook_path(lesson, "lessons"))
                if kind == "partial":
                    solution = {c.get("id"): c for c in read_notebook(notebook_path(lesson)).cells}
                    cell = next(c for c in nb.cells if c.cell_type == "code" and
                                c.get("metadata", {}).get("nbgrader", {}).get("solution"))
                    cell.source = solution[cell.id].source
            write_notebook(nb, folder / f"s{i:02d}-{kind}" / lesson / f"{lesson}.ipynb")
            n += 1
    return n


def _scores(path: Path) -> list:
    import csv

    return [{k: v for k, v in row.items() if k != "status"} for row in csv.DictReader(open(path))]


def split_table(label: str, timings) -> list[str]:
    lines = []
    for lesson in sorted({t["lesson"] for t in timings}):
        rows = [t for t in timings if t["lesson"] == lesson and "graded" in t and "kernel" in t]
        if not rows:
            continue
        mean = {k: statistics.mean(r[k] for r in rows)
                for k in ("total", "kernel", "graded", "other", "outside")}
        floor = mean["kernel"] + mean["graded"]
        lines.append(f"{label:7s} {lesson:26s} {len(rows):3d} {mean['total']:7.1f} {mean['kernel']:7.1f} "
                     f"{mean['graded']:7.1f} {mean['other']:7.1f} {mean['outside'] - mean['kernel']:9.1f} "
                     f"{floor:7.1f} {mean['total'] / floor:6.2f}x "
                     f"{statistics.mean(r.get('skipped_cells', 0) for r in rows):5.1f}")
    return lines


def real(args) -> int:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        tmp = Path(tmp)
        before, _ = copy_course(tmp / "before", args.lessons, "none")
        after, tagged = copy_course(tmp / "after", args.lessons, "skip")
        for lesson, ids in tagged.items():
            print(f"{lesson}: skipped after: {', '.join(ids) or '(none)'}", flush=True)
        n = write_class(tmp / "class", args.lessons, args.students)
        runs, times = {}, {}
        plan = [("before", before, 1, "0"), ("after", after, 1, "1"),
                ("parallel", after, args.workers, "1")]
        for label, root, workers, fork in plan[args.no_before:]:
            os.environ["MCLIB_NBGRADER_FORK"] = fork  # read by the workers the cluster starts
            start = time.perf_counter()
            runs[label] = grade_class(tmp / "class", tmp / label, args.lessons, root, workers=workers,
                                      opts=grading.GradingOptions(feedback=True), progress=True)
            times[label] = time.perf_counter() - start
            busy = sum(t["total"] for t in runs[label].timings)
            print(f"{label:8s} workers={workers}: {times[label]:7.1f} s for {n} submissions, "
                  f"{n / times[label] * 60:6.2f} submissions/min; {busy / n:5.2f} s per submission "
                  f"on its worker; start-up and hand-over {times[label] - busy / workers:5.1f} s; "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.no_before:
            print(f"\nthroughput ratio parallel/serial: {times['after'] / times['parallel']:.2f} "
                  f"({args.workers} workers, {n} submissions)")
            for line in split_table("after", runs["after"].timings):
                print(line)
            return 0
        same = (tmp / "after" / "grades.csv").read_bytes() == (tmp / "parallel" / "grades.csv").read_bytes()
        # Skipping must change no score (a status may lose the errors of skipped cells).
        unchanged = _scores(tmp / "before" / "grades.csv") == _scores(tmp / "after" / "grades.csv")
        print(f"\nthroughput ratio parallel/serial: {times['after'] / times['parallel']:.2f} "
              f"({args.workers} workers, {n} submissions); grades.csv identical: "
              f"{'yes' if same else 'NO'}; grades unchanged by skipping: {'yes' if unchanged else 'NO'}; "
              f"before/after (serial): {times['before'] / times['after']:.2f}")
        print("\nseconds per submission (means); overhead = nbgrader and the rest outside the cells")
        print(f"{'':7s} {'lesson':26s} {'n':>3s} {'total':>7s} {'kernel':>7s} {'graded':>7s} "
              f"{'other':>7s} {'overhead':>9s} {'floor':>7s} {'/floor':>7s} {'skip':>5s}")
        for label in ("before", "after"):
            for line in split_table(label, runs[label].timings):
                print(line)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0 if same and unchanged else 1


def tiny(args) -> int:
    from tiny_lesson import make_course, release, write_submission

    mix = ["solved", "solved", "solved", "partly-wrong", "partly-wrong", "blank", "hidden-fail",
           "random", "patch-allclose", "raises"]
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        tmp = Path(tmp)
        root = make_course(tmp / "course")
        released = release(root, tmp / "released.ipynb")
        for i in range(args.submissions):
            write_submission(tmp / "class", f"s{i:03d}", mix[i % len(mix)], released)
        times = {}
        for label, workers in (("serial", 1), ("parallel", args.workers)):
            start = time.perf_counter()
            grading.grade_folder(tmp / "class", tmp / label, root=root, workers=workers,
                                 feedback=False, progress=True)
            times[label] = time.perf_counter() - start
            print(f"{label:8s} workers={workers}: {times[label]:7.1f} s", flush=True)
        same = (tmp / "serial" / "grades.csv").read_bytes() == (tmp / "parallel" / "grades.csv").read_bytes()
        print(f"throughput ratio parallel/serial: {times['serial'] / times['parallel']:.2f}; "
              f"grades.csv identical: {'yes' if same else 'NO'}; load average "
              f"{os.getloadavg()[0]:.2f}")
        return 0 if same else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="+", default=["00-measuring", "05-low-rank"])
    parser.add_argument("--students", type=int, default=4, help="submissions per lesson")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-before", action="store_true",
                        help="only the after and parallel runs (the throughput ratio of a larger class)")
    parser.add_argument("--tiny", action="store_true", help="the synthetic tiny lesson instead")
    parser.add_argument("--submissions", type=int, default=40, help="with --tiny")
    args = parser.parse_args(argv)
    if args.students < 1 or args.workers < 1 or args.submissions < 1:
        parser.error("--students, --workers and --submissions must be positive")
    unknown = set(args.lessons) - set(lesson_names(ROOT))
    if unknown:
        parser.error(f"unknown lessons {sorted(unknown)}; the lessons are {lesson_names(ROOT)}")
    return tiny(args) if args.tiny else real(args)


if __name__ == "__main__":
    sys.exit(main())
