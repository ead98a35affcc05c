"""Grading throughput, serial against parallel, measured in one run.

Grades N synthetic submissions of the tiny test lesson (tests/tiny_lesson.py) - a mix of correct,
blank, partly wrong and hostile ones - once with one worker and once with --workers workers, and
prints both times, the throughput ratio, and whether the two grades.csv are identical.

    python benchmarks/grading_throughput.py [--submissions 40] [--workers N]

A script, not a test: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from autograder import grading  # noqa: E402
from autograder.course import Workspace  # noqa: E402
from tiny_lesson import LESSON, make_course, write_submission  # noqa: E402

# Correct, blank, partly wrong and hostile, in the proportions of a class that is mostly honest.
MIX = ["solved", "solved", "solved", "partly-wrong", "partly-wrong", "blank", "hidden-fail",
       "random", "patch-allclose", "raises"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=grading.default_workers())
    parser.add_argument("--feedback", action="store_true", help="also write HTML feedback")
    args = parser.parse_args(argv)
    if args.submissions < 1 or args.workers < 1:
        parser.error("--submissions and --workers must be positive")
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        tmp = Path(tmp)
        root = make_course(tmp / "course")
        with Workspace(root, lessons=[LESSON]) as ws:
            released = tmp / "released.ipynb"
            released.write_bytes(ws.generate(LESSON).read_bytes())
        subs = tmp / "class"
        for i in range(args.submissions):
            write_submission(subs, f"s{i:03d}", MIX[i % len(MIX)], released)
        times = {}
        for label, workers in (("serial", 1), ("parallel", args.workers)):
            start = time.perf_counter()
            grading.grade_folder(subs, tmp / label, root=root, workers=workers,
                                 feedback=args.feedback, progress=True)
            times[label] = time.perf_counter() - start
            print(f"{label:8s} workers={workers}: {times[label]:7.1f} s, "
                  f"{args.submissions / times[label] * 60:6.1f} submissions/min", flush=True)
        same = (tmp / "serial" / "grades.csv").read_bytes() == (tmp / "parallel" / "grades.csv").read_bytes()
        print(f"throughput ratio parallel/serial: {times['serial'] / times['parallel']:.2f} "
              f"({args.workers} workers, {args.submissions} submissions); "
              f"grades.csv identical: {'yes' if same else 'NO'}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
