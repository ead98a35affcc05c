"""Datasets for the course, offline by default.

The default dataset is scikit-learn's bundled handwritten digits (1,797 grey 8x8 images, 10
classes), which ships inside scikit-learn and so needs no download. Splits are fixed: the same
``seed`` always gives the same train / validation / test rows, stratified by class.

MNIST and Fashion-MNIST are loaded by real code: the four IDX files are downloaded once into a
cache folder, checked against their published MD5 sums and parsed. Where there is no network the
loader fails with a message that says which files to put where.

Conventions: images are float32 in [0, 1]; ``flat=True`` gives (N, H*W) rows for MLPs and
``flat=False`` gives (N, 1, H, W) for CNNs; labels are int64 class indices.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = [
    "Splits", "load_digits", "make_loaders", "digits_loaders", "read_idx", "load_mnist",
    "cache_dir", "MNIST_FILES", "FASHION_MNIST_FILES",
]

DIGITS_CLASSES = 10


@dataclass(frozen=True)
class Splits:
    """Train, validation and test tensors of one dataset (x: float32, y: int64)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def _check_fraction(name: str, value: float) -> None:
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")


def load_digits(flat: bool = True, seed: int = 0, val_fraction: float = 0.15,
                test_fraction: float = 0.25) -> Splits:
    """scikit-learn's digits, split into train / validation / test, stratified by class.

    Pixel values (0..16 in the raw data) are divided by 16 so they lie in [0, 1].
    ``flat=True`` gives (N, 64); ``flat=False`` gives (N, 1, 8, 8). The same ``seed`` gives the
    same split on every machine.
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 so some data is left to train on, "
            f"got {val_fraction} + {test_fraction}")
    digits = _sk_load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    val_share = val_fraction / (1.0 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, random_state=seed, stratify=y_rest)
    shape = (-1, 64) if flat else (-1, 1, 8, 8)

    def t(a, b):
        return torch.from_numpy(a).reshape(shape), torch.from_numpy(b)

    return Splits(*t(x_train, y_train), *t(x_val, y_val), *t(x_test, y_test))


def make_loaders(splits: Splits, batch_size: int = 64, seed: int = 0
                 ) -> tuple[DataLoader, DataLoader, DataLoader]:
    """DataLoaders for (train, val, test). Only the training loader shuffles, with its own seeded
    generator, so the order of batches is the same in every run."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    gen = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(splits.x_train, splits.y_train), batch_size=batch_size,
                       shuffle=True, generator=gen)
    val = DataLoader(TensorDataset(splits.x_val, splits.y_val), batch_size=512)
    test = DataLoader(TensorDataset(splits.x_test, splits.y_test), batch_size=512)
    return train, val, test


def digits_loaders(flat: bool = True, batch_size: int = 64, seed: int = 0):
    """Shortcut: ``make_loaders(load_digits(flat, seed), batch_size, seed)``."""
    return make_loaders(load_digits(flat=flat, seed=seed), batch_size=batch_size, seed=seed)


# ----------------------------------------------------------------------------------------------
# MNIST-style IDX files

# name -> (file name, md5 of the gzipped file)
MNIST_FILES = {
    "train-images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
FASHION_MNIST_FILES = {
    "train-images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
_DATASETS = {
    "mnist": (MNIST_FILES, "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": (FASHION_MNIST_FILES,
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
}
# IDX type codes (the third byte of the magic number) -> numpy big-endian dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def cache_dir() -> Path:
    """Where mclib keeps downloads and trained models: $MCLIB_CACHE, else ~/.cache/mclib."""
    root = os.environ.get("MCLIB_CACHE") or Path.home() / ".cache" / "mclib"
    return Path(root)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into a numpy array of its declared type and shape.

    Format: two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per
    dimension, then the data in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file: it must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}; "
                         f"allowed: {', '.join(hex(c) for c in _IDX_DTYPES)}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX header declares shape {shape} ({expected} bytes of data) "
                         f"but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, dest: Path, md5: str) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    got = _md5(tmp)
    if got != md5:
        tmp.unlink()
        raise OSError(f"checksum mismatch for {url}: expected md5 {md5}, got {got}; "
                      f"the download is corrupt or the mirror changed")
    tmp.replace(dest)


def load_mnist(kind: str = "mnist", root: str | os.PathLike | None = None, download: bool = True,
               flat: bool = True, seed: int = 0, val_size: int = 5000, base_url: str | None = None,
               files: dict | None = None, verify_md5: bool = True) -> Splits:
    """MNIST or Fashion-MNIST (``kind``) from IDX files in ``root`` (default: cache_dir()/kind).

    Missing files are downloaded from ``base_url`` when ``download`` is true and checked against
    their MD5; a file already present is checked too, unless ``verify_md5`` is false (files of your
    own, e.g. a subset; downloads are always checked). The official 60k training set is split into
    train and a seeded validation set of ``val_size`` images; the 10k test set is kept as is.
    Images are scaled to [0, 1]; ``flat=False`` gives (N, 1, 28, 28).
    """
    if kind not in _DATASETS:
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: {', '.join(_DATASETS)}")
    default_files, default_url = _DATASETS[kind]
    files = files or default_files
    base_url = base_url or default_url
    folder = Path(root) if root is not None else cache_dir() / kind
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, (fname, md5) in files.items():
        path = folder / fname
        if not path.exists():
            if not download:
                raise FileNotFoundError(_missing_message(kind, folder, files))
            try:
                _fetch(base_url + fname, path, md5)
            except OSError as exc:
                if "checksum" in str(exc):
                    raise
                raise FileNotFoundError(
                    f"could not download {base_url + fname} ({exc}).\n"
                    + _missing_message(kind, folder, files)) from exc
        elif verify_md5 and _md5(path) != md5:
            raise OSError(f"{path} does not match its published md5 {md5}: delete it and "
                          f"download again, or copy an intact file there")
        arrays[name] = read_idx(path)
    x_train_all = arrays["train-images"].astype(np.float32) / 255.0
    y_train_all = arrays["train-labels"].astype(np.int64)
    x_test = arrays["test-images"].astype(np.float32) / 255.0
    y_test = arrays["test-labels"].astype(np.int64)
    if len(x_train_all) != len(y_train_all) or len(x_test) != len(y_test):
        raise ValueError(f"{kind}: image and label counts differ in {folder}")
    if not 0 < val_size < len(x_train_all):
        raise ValueError(f"val_size must lie between 1 and {len(x_train_all) - 1}, got {val_size}")
    order = np.random.default_rng(seed).permutation(len(x_train_all))
    val_idx, train_idx = order[:val_size], order[val_size:]
    h, w = x_train_all.shape[1:]
    shape = (-1, h * w) if flat else (-1, 1, h, w)

    def t(x, y):
        return torch.from_numpy(np.ascontiguousarray(x)).reshape(shape), torch.from_numpy(y)

    return Splits(*t(x_train_all[train_idx], y_train_all[train_idx]),
                  *t(x_train_all[val_idx], y_train_all[val_idx]), *t(x_test, y_test))


def _missing_message(kind: str, folder: Path, files: dict) -> str:
    names = "\n".join(f"  {folder / fname}" for fname, _ in files.values())
    return (f"{kind} is not available offline. Download its four IDX files on a machine with "
            f"network access and copy them here:\n{names}\n"
            f"(or call load_mnist(kind={kind!r}, root=FOLDER) with the folder that holds them). "
            f"The offline default dataset is mclib.data.load_digits().")
