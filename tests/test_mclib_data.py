import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from mclib import data


def test_digits_splits_are_fixed_stratified_and_scaled():
    a, b = data.load_digits(seed=0), data.load_digits(seed=0)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.sizes() == {"train": 1077, "val": 270, "test": 450}
    assert a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert 0.0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1.0
    assert a.num_classes == 10
    counts = torch.bincount(a.y_test, minlength=10)
    assert counts.min() >= 43 and counts.max() <= 47  # stratified: ~45 per class
    c = data.load_digits(seed=1)
    assert not torch.equal(a.y_train, c.y_train)


def test_digits_image_shape_and_loaders_are_deterministic():
    s = data.load_digits(flat=False)
    assert s.x_train.shape[1:] == (1, 8, 8)
    first = [next(iter(data.make_loaders(s, batch_size=32, seed=3)[0]))[1] for _ in range(2)]
    assert torch.equal(first[0], first[1])
    train, val, test = data.digits_loaders(batch_size=16)
    assert len(next(iter(train))[0]) == 16 and len(test.dataset) == 450


@pytest.mark.parametrize("kwargs, match", [({"val_fraction": 0}, "val_fraction"),
                                           ({"test_fraction": 1.5}, "test_fraction"),
                                           ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1")])
def test_digits_rejects_bad_fractions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_digits(**kwargs)


def test_make_loaders_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        data.make_loaders(data.load_digits(), batch_size=0)


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_fake_mnist(folder, n_train=12, n_test=5, size=4):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test-images": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "test-labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    files = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        fname = f"{name}-idx{arr.ndim}-ubyte.gz"
        raw = gzip.compress(_idx_bytes(arr, 0x08), mtime=0)
        (folder / fname).write_bytes(raw)
        files[name] = (fname, hashlib.md5(raw).hexdigest())
    return arrays, files


def test_read_idx_parses_types_and_shapes(tmp_path):
    for code, dtype in [(0x08, np.uint8), (0x0B, np.int16), (0x0D, np.float32)]:
        arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if code != 0x08 else np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
        p = tmp_path / f"a{code}.idx"
        p.write_bytes(_idx_bytes(arr, code))
        np.testing.assert_array_equal(data.read_idx(p), arr)


@pytest.mark.parametrize("raw, match", [(b"\x01\x00\x08\x01", "two zero bytes"),
                                        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code"),
                                        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated"),
                                        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01", "declares shape")])
def test_read_idx_rejects_malformed_files(tmp_path, raw, match):
    p = tmp_path / "bad.idx"
    p.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        data.read_idx(p)


def test_load_mnist_from_local_files(tmp_path):
    arrays, files = _write_fake_mnist(tmp_path / "mnist")
    s = data.load_mnist(root=tmp_path / "mnist", download=False, files=files, val_size=2)
    assert s.sizes() == {"train": 10, "val": 2, "test": 5}
    assert s.x_train.shape == (10, 16) and float(s.x_train.max()) <= 1.0
    np.testing.assert_allclose(s.x_test.numpy().reshape(5, 4, 4), arrays["test-images"] / 255.0, rtol=1e-6)
    assert sorted((s.y_train.tolist() + s.y_val.tolist())) == sorted(arrays["train-labels"].tolist())
    img = data.load_mnist(root=tmp_path / "mnist", download=False, files=files, val_size=2, flat=False)
    assert img.x_train.shape == (10, 1, 4, 4)


def test_load_mnist_downloads_and_verifies_checksums(tmp_path):
    _, files = _write_fake_mnist(tmp_path / "mirror")
    mirror = (tmp_path / "mirror").as_uri() + "/"
    s = data.load_mnist(kind="fashion-mnist", root=tmp_path / "cache", base_url=mirror, files=files,
                        val_size=3)
    assert s.sizes()["val"] == 3 and (tmp_path / "cache" / files["test-labels"][0]).exists()
    bad = {k: (f, "0" * 32) for k, (f, _) in files.items()}
    with pytest.raises(OSError, match="checksum mismatch"):
        data.load_mnist(root=tmp_path / "other", base_url=mirror, files=bad)
    with pytest.raises(OSError, match="does not match its published md5"):
        data.load_mnist(root=tmp_path / "cache", files=bad, download=False)


def test_load_mnist_offline_says_where_to_put_the_files(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist(root=tmp_path / "empty", download=False)
    text = str(err.value)
    assert "train-images-idx3-ubyte.gz" in text and str(tmp_path / "empty") in text
    with pytest.raises(FileNotFoundError, match="could not download"):
        data.load_mnist(root=tmp_path / "x", base_url=(tmp_path / "nowhere").as_uri() + "/")


def test_load_mnist_rejects_unknown_kind_and_bad_val_size(tmp_path):
    with pytest.raises(ValueError, match="allowed: mnist, fashion-mnist"):
        data.load_mnist(kind="cifar")
    _, files = _write_fake_mnist(tmp_path / "m")
    with pytest.raises(ValueError, match="val_size"):
        data.load_mnist(root=tmp_path / "m", files=files, download=False, val_size=12)


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path
