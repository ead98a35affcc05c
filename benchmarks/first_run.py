"""How long each lesson's solution notebook takes on a learner's first run (an empty model cache)
against a later run (the cache already holding the shared zoo models), side by side.

    .venv/bin/python benchmarks/first_run.py                   # every lesson, cold then warm
    .venv/bin/python benchmarks/first_run.py 01-distillation --mode cold
    .venv/bin/python benchmarks/first_run.py --no-shipped      # as if mclib shipped no weights

"cold" runs each lesson with its own empty MCLIB_CACHE, as the first lesson a learner opens;
"warm" uses the cache in $MCLIB_CACHE (default ~/.cache/mclib), filled first if needed.
``--no-shipped`` sets MCLIB_SHIPPED_WEIGHTS=0 so the zoo trains what the cache lacks, which is what
a first run cost before mclib shipped its trained weights. Each notebook runs once (the numbers are
for one busy or idle machine: compare the columns, not the absolute values across machines).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.course import lesson_names, notebook_path  # noqa: E402
from autograder.execute import run_notebook  # noqa: E402


def _warm(cache: str, env: dict) -> None:
    """Fill ``cache`` with the zoo models (loads or trains them) in a separate process."""
    subprocess.run([sys.executable, "-c", "from mclib import zoo\nfor make in zoo.RECIPES.values(): make()"],
                   env={**os.environ, **env, "MCLIB_CACHE": cache, "PYTHONPATH": str(ROOT)}, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*")
    parser.add_argument("--mode", choices=["cold", "warm", "both"], default="both")
    parser.add_argument("--no-shipped", action="store_true",
                        help="ignore the weights shipped in mclib/weights (MCLIB_SHIPPED_WEIGHTS=0)")
    args = parser.parse_args(argv)
    known = lesson_names()
    lessons = args.lessons or known
    for lesson in lessons:
        if lesson not in known:
            parser.error(f"unknown lesson {lesson!r}; the lessons are: {', '.join(known)}")
    env = {"MCLIB_SHIPPED_WEIGHTS": "0"} if args.no_shipped else {}
    warm_cache = os.environ.get("MCLIB_CACHE") or str(Path.home() / ".cache" / "mclib")
    if args.mode != "cold":
        _warm(warm_cache, env)
    print(f"{'lesson':26s} {'cold (s)':>9s} {'warm (s)':>9s} {'cold/warm':>9s}", flush=True)
    failed = False
    for lesson in lessons:
        times = {}
        for mode in (["cold", "warm"] if args.mode == "both" else [args.mode]):
            with tempfile.TemporaryDirectory(prefix="mc-cold-cache-") as empty:
                cache = empty if mode == "cold" else warm_cache
                run = run_notebook(notebook_path(lesson), env={**env, "MCLIB_CACHE": cache})
            if not run.ok:
                print(f"{lesson} ({mode}) failed: {run.error}", file=sys.stderr)
                failed = True
            times[mode] = run.seconds
        cold, warm = times.get("cold"), times.get("warm")
        ratio = f"{cold / warm:9.2f}" if cold and warm else f"{'-':>9s}"
        print(f"{lesson:26s} {cold if cold else float('nan'):9.1f} {warm if warm else float('nan'):9.1f} "
              f"{ratio}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
