"""``python -m mclib.weights [NAME ...]``: train the zoo's recipes afresh (never from the cache or
the shipped files) and write their weights and SHA256SUMS into mclib/weights."""
from __future__ import annotations

import os
import sys
import tempfile

import torch

from mclib import weights, zoo


def main(argv=None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or list(zoo.RECIPES)
    unknown = [n for n in names if n not in zoo.RECIPES]
    if unknown:
        print(f"unknown recipe(s) {unknown}; the recipes are: {', '.join(zoo.RECIPES)}", file=sys.stderr)
        return 2
    sums = weights.expected_hashes()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MCLIB_CACHE"] = cache  # a throw-away cache: every model is trained now
        for name in names:
            model = zoo.RECIPES[name](retrain=True)
            version = zoo.VERSIONS[name]
            path = weights.path_of(name, version)
            torch.save(model.state_dict(), path)
            sums[path.name] = weights.sha256(path)
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    weights.SUMS.write_text("".join(f"{digest}  {fname}\n" for fname, digest in sorted(sums.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
