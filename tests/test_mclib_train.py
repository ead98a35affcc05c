import pytest
import torch

from mclib import data, models, train, zoo


def _loaders():
    return data.make_loaders(data.load_digits(), batch_size=64, seed=0)


def test_fit_is_deterministic_and_learns():
    tr, val, test = _loaders()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = models.MLP([64, 32, 10])
        h = train.fit(m, tr, epochs=15, val_loader=val, seed=0, show_progress=False)
        runs.append((m, h))
    assert torch.equal(runs[0][0].fc1.weight, runs[1][0].fc1.weight)
    assert runs[0][1].train_loss == runs[1][1].train_loss
    assert runs[0][1].train_loss[-1] < runs[0][1].train_loss[0]
    assert train.evaluate(runs[0][0], test) > 0.9
    assert not runs[0][0].training


def test_fit_after_step_hook_runs_every_step():
    tr, _, _ = _loaders()
    calls = []
    m = models.MLP([64, 10])
    train.fit(m, tr, epochs=1, after_step=lambda model: calls.append(1), show_progress=False)
    assert len(calls) == len(tr)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"epochs": -1}, ValueError, "epochs"), ({"epochs": 1, "lr": 0}, ValueError, "lr"),
    ({"epochs": 1, "optimizer": "rmsprop"}, ValueError, "'adam' or 'sgd'")])
def test_fit_rejects_bad_arguments(kwargs, err, match):
    tr, _, _ = _loaders()
    with pytest.raises(err, match=match):
        train.fit(models.MLP([64, 10]), tr, **kwargs)
    with pytest.raises(TypeError, match="nn.Module"):
        train.fit("model", tr, epochs=1)
    with pytest.raises(TypeError, match="iterable"):
        train.fit(models.MLP([64, 10]), 3, epochs=1)


def test_predict_and_evaluate_agree():
    _, _, test = _loaders()
    m = models.MLP([64, 10])
    logits = train.predict(m, test.dataset.tensors[0], batch_size=100)
    acc = float((logits.argmax(1) == test.dataset.tensors[1]).float().mean())
    assert train.evaluate(m, test) == pytest.approx(acc)
    with pytest.raises(ValueError, match="empty"):
        train.evaluate(m, [])


def test_cached_model_trains_once(monkeypatch, tmp_path):
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path))
    trained = []

    def fit_fn(model):
        trained.append(1)
        with torch.no_grad():
            model.fc1.weight.fill_(0.5)

    a = train.cached_model("toy", lambda: models.MLP([3, 2]), fit_fn)
    b = train.cached_model("toy", lambda: models.MLP([3, 2]), fit_fn)
    assert len(trained) == 1 and torch.equal(a.fc1.weight, b.fc1.weight)
    assert float(b.fc1.weight[0, 0].detach()) == 0.5 and not b.training
    train.cached_model("toy", lambda: models.MLP([3, 2]), fit_fn, version="2")
    assert len(trained) == 2
    assert not list((tmp_path / "models").glob("*.part"))
    with pytest.raises(ValueError, match="identifier"):
        train.cached_model("a/b", lambda: models.MLP([3, 2]), fit_fn)


def test_seed_everything_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        train.seed_everything(-1)


def test_progress_respects_environment(monkeypatch):
    monkeypatch.setenv("MCLIB_PROGRESS", "0")
    assert not train.progress_enabled()
    items = [1, 2]
    assert train.progress(items) is items
    monkeypatch.setenv("MCLIB_PROGRESS", "1")
    assert train.progress_enabled()


def test_zoo_models_are_accurate_and_cached():
    s = data.load_digits()
    for name in ["digits-teacher", "digits-lenet300"]:
        m = zoo.RECIPES[name]()
        _, _, test = data.make_loaders(s)
        assert train.evaluate(m, test) > 0.95, name
    cnn = zoo.digits_cnn()
    _, _, test = data.make_loaders(data.load_digits(flat=False))
    assert train.evaluate(cnn, test) > 0.95


def test_num_threads_restores_and_validates():
    before = torch.get_num_threads()
    with train.num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="positive number of threads"):
        with train.num_threads(0):
            pass
