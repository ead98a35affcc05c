"""Lessons 02 and 03 run their LeNet-300-100 experiments on MNIST-format data when asked
(``MCLIB_DATASET=mnist``), from IDX files the learner points at (``MCLIB_MNIST_DIR``). Real MNIST is
not available offline, so the test writes small IDX files of the right format (28x28 images) and
runs each solution notebook on them from top to bottom: every cell must run, and the network must be
the 784-input LeNet-300-100 trained on those files, not the digits model."""
import gzip
import shutil
import struct
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.course import ROOT, isolated_env, notebook_path
from autograder.feedback import error_summary
from mclib import data

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

N_TRAIN, N_TEST = 5_300, 300        # load_mnist keeps 5,000 training images for validation


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte IDX file, gzipped as MNIST ships it."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-files")
    rng = np.random.default_rng(0)
    # Each class lights up its own band of rows, with noise: learnable, so the experiments see a
    # trained network rather than chance.
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, y in enumerate(labels):
            images[i, 2 * y + 4:2 * y + 7, 4:24] += 180
        _write_idx_gz(folder / f"{split}-images-idx3-ubyte.gz", images)
        _write_idx_gz(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    splits = data.load_mnist("mnist", root=folder, download=False, verify_md5=False)
    assert splits.x_train.shape == (N_TRAIN - 5_000, 784) and len(splits.y_test) == N_TEST
    return folder


def test_load_mnist_checks_md5_unless_told_not_to(mnist_dir, tmp_path):
    with pytest.raises(OSError, match="md5"):
        data.load_mnist("mnist", root=mnist_dir, download=False)


@pytest.mark.parametrize("lesson", ["02-pruning", "03-kmeans-quantization"])
def test_lesson_runs_on_mnist_files(lesson, mnist_dir, tmp_path):
    from nbclient import NotebookClient

    cache = tmp_path / "cache"
    models = data.cache_dir() / "models"
    if models.is_dir():           # the digits models of the zoo, so that only the MNIST one trains
        shutil.copytree(models, cache / "models")
    path = notebook_path(lesson, "solutions")
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if c.get("id") != "selfcheck"]
    env = isolated_env(ROOT, tmp_path / "private")
    env.update(MCLIB_CACHE=str(cache), MCLIB_DATASET="mnist", MCLIB_MNIST_DIR=str(mnist_dir))
    client = NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel(env=env):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
                err = error_summary(cell)
                assert err is None, f"{lesson} on MNIST files: cell {cell.get('id')} raised {err}"
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "on mnist" in printed and f"{N_TEST:,} test images" in printed, printed[:2000]
    assert list((cache / "models").glob("mnist-lenet300-*.pt")), "the MNIST LeNet-300-100 was not trained"
