"""The zoo's models come back the same however they were obtained: trained just now (an empty
cache), read from the cache (a warm one) or read from the weights shipped in mclib/weights. Same
weights, eval mode, on the CPU, parameters requiring gradients as the network was built, no .grad,
and the global random generators left in the same state. And the shipped weights are what a fresh
training of each recipe gives."""
import shutil
import warnings

import pytest
import torch
from torch import nn

from mclib import data, models, train, weights, zoo


def _state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _as_handed_out(model: nn.Module, build) -> None:
    """What every way out of cached_model must look like."""
    fresh = build()
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(p.grad is None for p in model.parameters()), "gradients left over from training"
    assert [p.requires_grad for p in model.parameters()] == [p.requires_grad for p in fresh.parameters()]


def _toy():
    m = models.MLP([64, 16, 10], dropout=0.2)
    m.fc1.bias.requires_grad_(False)  # a frozen parameter must stay frozen on both paths
    return m


def _toy_train(model):
    tr, _, _ = data.make_loaders(data.load_digits(), batch_size=64, seed=0)
    train.fit(model, tr, epochs=2, seed=0, show_progress=False)
    model.train()  # a recipe may leave the model in any mode


def test_trained_now_and_read_from_the_cache_come_back_alike(monkeypatch, tmp_path):
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path))
    cold = train.cached_model("toy-alike", _toy, _toy_train)
    after_cold = torch.rand(4)
    warm = train.cached_model("toy-alike", _toy, _toy_train)
    after_warm = torch.rand(4)
    assert _state_equal(cold, warm)
    for m in (cold, warm):
        _as_handed_out(m, _toy)
    assert torch.equal(after_cold, after_warm), "the random generators end in different states"
    assert cold is not warm and not cold.fc1.bias.requires_grad


def test_every_recipe_ships_weights_that_load_and_match_their_hash():
    sums = weights.expected_hashes()
    for name, version in zoo.VERSIONS.items():
        path = weights.path_of(name, version)
        assert path.is_file(), f"no shipped weights for {name}: run python -m mclib.weights {name}"
        assert sums.get(path.name) == weights.sha256(path), f"{path.name} does not match SHA256SUMS"
        assert weights.load(name, version) is not None
    assert set(sums) == {weights.path_of(n, v).name for n, v in zoo.VERSIONS.items()}, \
        "SHA256SUMS lists files that are not a current recipe's"


@pytest.mark.parametrize("name", list(zoo.RECIPES))
def test_zoo_model_from_an_empty_cache_equals_the_one_from_a_warm_cache(name, monkeypatch, tmp_path):
    # Empty cache: the shipped weights, and no training at all.
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path / "empty"))

    def no_training(*args, **kwargs):
        raise AssertionError("the zoo trained although weights are shipped")

    monkeypatch.setattr(zoo, "fit", no_training)
    cold = zoo.RECIPES[name]()
    after_cold = torch.rand(3)
    assert not (tmp_path / "empty" / "models").exists() or not any((tmp_path / "empty" / "models").iterdir())
    # Warm cache: the file a training of the recipe writes there.
    folder = tmp_path / "warm" / "models"
    folder.mkdir(parents=True)
    torch.save(weights.load(name, zoo.VERSIONS[name]),
               folder / f"{name}-v{zoo.VERSIONS[name]}-torch{torch.__version__.split('+')[0]}.pt")
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path / "warm"))
    monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "0")
    warm = zoo.RECIPES[name]()
    after_warm = torch.rand(3)
    assert _state_equal(cold, warm) and type(cold) is type(warm)
    for m in (cold, warm):
        assert not m.training and all(p.grad is None and p.requires_grad for p in m.parameters())
        assert all(p.device.type == "cpu" for p in m.parameters())
    assert torch.equal(after_cold, after_warm)


def test_a_corrupt_shipped_file_is_ignored_and_the_model_trained(monkeypatch, tmp_path):
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path / "cache"))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(weights, "FOLDER", shipped)
    monkeypatch.setattr(weights, "SUMS", shipped / "SHA256SUMS")
    trained = []

    def fit_fn(model):
        trained.append(1)

    torch.save(_toy().state_dict(), shipped / "toy-v1.pt")
    (shipped / "SHA256SUMS").write_text(f"{weights.sha256(shipped / 'toy-v1.pt')}  toy-v1.pt\n")
    train.cached_model("toy", _toy, fit_fn)
    assert trained == [], "a shipped file with the right hash is used"
    (shipped / "toy-v1.pt").write_bytes((shipped / "toy-v1.pt").read_bytes()[:-10] + b"0123456789")
    with pytest.warns(RuntimeWarning, match="does not match its SHA-256"):
        train.cached_model("toy", _toy, fit_fn)
    assert trained == [1]


def test_shipped_weights_can_be_switched_off(monkeypatch, tmp_path):
    monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "0")
    assert weights.load("digits-cnn", zoo.VERSIONS["digits-cnn"]) is None
    monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "1")
    assert weights.load("digits-cnn", zoo.VERSIONS["digits-cnn"]) is not None
    assert weights.load("no-such-model", "1") is None


@pytest.mark.slow
def test_shipped_weights_are_what_a_fresh_training_gives(monkeypatch, tmp_path):
    """Each recipe trained now (empty cache, shipped weights off) against its shipped file.

    On the machine that made them (torch 2.13.0, x86-64, one thread) the weights are bitwise equal.
    The test allows a float tolerance: another CPU's vector instructions (AVX2 against AVX-512,
    fused multiply-add) round the same sums differently in the last bit, and 25-60 epochs of Adam
    carry such differences into every weight. A changed recipe moves weights by far more than the
    tolerance and changes predictions, which is what this test is for."""
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path))
    monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "0")
    for name, make in zoo.RECIPES.items():
        fresh = make(retrain=True)
        after_fresh = torch.rand(3)
        assert not fresh.training and all(p.grad is None and p.requires_grad for p in fresh.parameters())
        monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "1")
        shutil.rmtree(tmp_path / "models")
        shipped = make()
        after_shipped = torch.rand(3)
        monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "0")
        assert torch.equal(after_fresh, after_shipped), name
        sf, ss = fresh.state_dict(), shipped.state_dict()
        worst = max(float((sf[k] - ss[k]).abs().max()) for k in sf)
        assert worst <= 1e-3, f"{name}: shipped weights differ from a fresh training by {worst:.2e}"
        splits = data.load_digits(flat=isinstance(fresh, models.MLP))
        assert torch.equal(train.predict(fresh, splits.x_test).argmax(1),
                           train.predict(shipped, splits.x_test).argmax(1)), name
        print(f"{name}: largest weight difference {worst:.1e}"
              f" ({'bitwise equal' if all(torch.equal(sf[k], ss[k]) for k in sf) else 'within tolerance'})")
