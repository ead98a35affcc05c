"""Device safety without a GPU: on a machine whose CUDA is reported as present (fake_cuda), mclib
trains, predicts, evaluates and measures on the CPU unless asked, and hands every model back on
the device it came in on. Any move to CUDA here raises, so a helper that moved a model would fail."""
import pytest
import torch
from torch import nn

from fake_cuda import install
from mclib import data, measure, models, train, zoo


@pytest.fixture
def cuda_present(monkeypatch):
    install(monkeypatch)
    assert torch.cuda.is_available()


def _loaders():
    return data.make_loaders(data.load_digits(), batch_size=64, seed=0)


def _on_cpu(model: nn.Module) -> bool:
    return all(t.device.type == "cpu" for t in [*model.parameters(), *model.buffers()])


def test_the_fake_gpu_refuses_every_move(cuda_present):
    for move in (lambda: torch.zeros(2).to("cuda"), lambda: nn.Linear(2, 2).cuda(),
                 lambda: torch.zeros(2, device="cuda")):
        with pytest.raises(RuntimeError, match="not usable"):
            move()


def test_default_device_is_the_cpu_even_with_a_gpu(cuda_present):
    assert train.default_device() == torch.device("cpu")


def test_fit_predict_evaluate_stay_on_the_cpu(cuda_present):
    tr, val, test = _loaders()
    torch.manual_seed(0)
    m = models.MLP([64, 32, 10])
    train.fit(m, tr, epochs=2, val_loader=val, show_progress=False)
    assert _on_cpu(m) and not m.training
    logits = train.predict(m, test.dataset.tensors[0])
    assert logits.device.type == "cpu" and _on_cpu(m)
    assert 0 <= train.evaluate(m, test) <= 1 and _on_cpu(m)


def test_an_explicit_device_is_used_and_fails_loudly_here(cuda_present):
    tr, _, test = _loaders()
    m = models.MLP([64, 10])
    for call in (lambda: train.fit(m, tr, epochs=1, device="cuda", show_progress=False),
                 lambda: train.predict(m, test.dataset.tensors[0], device="cuda"),
                 lambda: train.evaluate(m, test, device="cuda"),
                 lambda: measure.latency(m, torch.zeros(1, 64), min_run_time=0.01, device="cuda")):
        with pytest.raises(RuntimeError, match="not usable"):
            call()
        assert _on_cpu(m)


class _Recording(nn.Module):
    """A model that records every device it is asked to move to (and stays on the CPU): how a test
    without a second device sees that a helper moved a model and moved it back."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.moves = []

    def to(self, *args, **kwargs):
        self.moves.append(torch.device(args[0] if args else kwargs["device"]))
        return self

    def forward(self, x):
        return self.fc(x)


def test_an_explicit_device_is_left_again_afterwards(monkeypatch):
    tr, _, test = _loaders()
    m = _Recording()
    train.predict(m, test.dataset.tensors[0], device="cpu")
    train.fit(m, tr, epochs=1, show_progress=False)
    assert m.moves == []  # already there, or no device asked for: no move at all
    # Pretend the model lives on another device: the helpers must move it to the device they were
    # asked for and back to where it came from.
    monkeypatch.setattr(train, "model_device", lambda model: torch.device("meta"))
    train.predict(m, test.dataset.tensors[0], device="cpu")
    train.evaluate(m, test, device="cpu")
    train.fit(m, tr, epochs=1, device="cpu", show_progress=False)
    measure.latency(m, torch.zeros(1, 64), min_run_time=0.01, device="cpu")
    assert m.moves == [torch.device("cpu"), torch.device("meta")] * 4


def test_helpers_compute_where_the_model_is():
    """A model the caller put somewhere stays there; inputs follow it."""
    m = models.MLP([64, 10])
    x = torch.zeros(3, 64, dtype=torch.float64)
    m.double()
    assert train.predict(m, x).dtype == torch.float64
    assert measure.count_macs(m, torch.zeros(1, 64, dtype=torch.float64)) == 640
    assert _on_cpu(m) and next(m.parameters()).dtype == torch.float64


def test_model_device_and_bad_devices():
    m = models.MLP([64, 10])
    assert train.model_device(m) == torch.device("cpu")
    assert train.model_device(nn.ReLU()) == torch.device("cpu")
    with pytest.raises(TypeError, match="nn.Module"):
        train.model_device("model")
    tr, _, _ = _loaders()
    with pytest.raises(ValueError, match="device must be"):
        train.fit(m, tr, epochs=1, device="gpu-please")
    with pytest.raises(ValueError, match="device must be"):
        train.predict(m, torch.zeros(1, 64), device=3.5)


def test_latency_and_macs_on_the_cpu_with_a_gpu_present(cuda_present):
    m = models.MLP([64, 32, 10])
    lat = measure.latency(m, torch.zeros(8, 64), min_run_time=0.01)
    assert lat.median_ms > 0 and _on_cpu(m)
    assert measure.count_macs(m, torch.zeros(1, 64)) == 64 * 32 + 32 * 10


def test_zoo_models_come_back_on_the_cpu_with_a_gpu_present(cuda_present, monkeypatch, tmp_path):
    # An empty cache and no shipped weights: the zoo trains, and must do it on the CPU. The
    # smallest recipe keeps this test short.
    monkeypatch.setenv("MCLIB_CACHE", str(tmp_path))
    monkeypatch.setenv("MCLIB_SHIPPED_WEIGHTS", "0")
    monkeypatch.setattr(zoo, "_trainer", _short_trainer(zoo._trainer))
    cnn = zoo.digits_cnn()
    assert _on_cpu(cnn) and not cnn.training


def _short_trainer(real):
    def trainer(flat, epochs, lr=1e-3, desc="training"):
        return real(flat, 1, lr, desc)
    return trainer
