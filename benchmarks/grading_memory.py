"""Peak memory of grading a class whose submissions print too much, against the same class without.

Grades lesson 00 twice in one run: a class of plain solutions, and the same class where every
submission also prints 200 lines of 1,000,000 characters (issue 18's case). It samples the
resident memory of the grading process tree (this process, nbgrader and the kernel) every 0.1 s
and prints both peaks, their ratio, the scores and the largest feedback file.

    python benchmarks/grading_memory.py [--lesson 00-measuring] [--students 2] [--workers 1]

A script, not a test: the numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from autograder import grading  # noqa: E402
from autograder.course import notebook_path  # noqa: E402
from autograder.notebooks import read_notebook  # noqa: E402

FLOOD = "for _ in range(200):\n    print('x' * 1_000_000)\n"


class PeakRSS:
    """Samples the resident memory of this process and all its descendants."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _class(folder: Path, lesson: str, students: int, flood: bool) -> None:
    for i in range(students):
        nb = read_notebook(notebook_path(lesson))
        if flood:
            cell = nbformat.v4.new_code_cell(FLOOD)
            cell.id = "flood"
            nb.cells.insert(2, cell)
        dest = folder / f"s{i}" / lesson / f"{lesson}.ipynb"
        dest.parent.mkdir(parents=True)
        nbformat.write(nb, str(dest))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", default="00-measuring")
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    peaks = {}
    with tempfile.TemporaryDirectory(prefix="mc-mem-") as tmp:
        for kind in ("plain", "flood"):
            subs = Path(tmp) / kind
            _class(subs, args.lesson, args.students, kind == "flood")
            start = time.perf_counter()
            with PeakRSS() as rss:
                results = grading.grade_folder(subs, Path(tmp) / f"out-{kind}", [args.lesson],
                                               workers=args.workers)
            seconds = time.perf_counter() - start
            feedback = max((p.stat().st_size for p in (Path(tmp) / f"out-{kind}").rglob("*.html")),
                           default=0)
            peaks[kind] = rss.peak
            print(f"{kind:6s}: peak RSS {rss.peak / 2**20:7.0f} MiB, {seconds:6.1f} s, largest "
                  f"feedback {feedback / 1e6:.2f} MB, scores "
                  f"{[f'{r.score:g}/{r.max_score:g}' for r in results]}, statuses "
                  f"{sorted({r.status[:60] for r in results})}")
    print(f"peak memory ratio flood / plain: {peaks['flood'] / peaks['plain']:.2f} (issue 18: <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
