"""mclib.int8: int8 CPU inference built from given quantization parameters."""
import pytest
import torch
from torch import nn

from mclib import int8


def _layers(gen, sizes=(16, 12, 5)):
    ws = [torch.randn(o, i, generator=gen) * 0.3 for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [torch.randn(o, generator=gen) * 0.1 for o in sizes[1:]]
    return ws, bs


def _float_mlp(ws, bs, x):
    for k, (w, b) in enumerate(zip(ws, bs)):
        x = x @ w.T + b
        if k + 1 < len(ws):
            x = torch.relu(x)
    return x


def test_int8_mlp_matches_the_float_network_within_quantization_error():
    gen = torch.Generator().manual_seed(0)
    ws, bs = _layers(gen)
    x = torch.rand(64, 16, generator=gen)
    scales = [w.abs().amax(1) / 127 for w in ws]
    # activation ranges measured on the float network: inputs in [0, 1], hidden after ReLU >= 0
    hidden = torch.relu(x @ ws[0].T + bs[0])
    out = _float_mlp(ws, bs, x)
    # Activations on 7 bits ([0, 127]), as PyTorch's x86 qconfig does: on CPUs without VNNI the
    # x86/fbgemm kernel sums pairs of u8*s8 products in int16, which saturates with full 8-bit
    # activations (lesson 04 shows the effect); 7 bits can never saturate there.
    act = [(1 / 127, 0), (float(hidden.max()) / 127, 0)]
    lo, hi = float(out.min()), float(out.max())
    out_qp = ((hi - lo) / 255, int(round(-lo / ((hi - lo) / 255))))
    net = int8.int8_mlp(ws, bs, scales, act, out_qp)
    got = net(x)
    assert got.dtype == torch.float32 and got.shape == (64, 5)
    # a few output grid steps of error at most
    assert (got - out).abs().max() < 6 * out_qp[0]
    assert (got.argmax(1) == out.argmax(1)).float().mean() > 0.9


def test_int8_mlp_flattens_images_and_weights_are_int8():
    gen = torch.Generator().manual_seed(1)
    ws, bs = _layers(gen, (4, 3))
    net = int8.int8_mlp(ws, bs, [w.abs().amax(1) / 127 for w in ws], [(1 / 255, 0)], (0.05, 128))
    y = net(torch.rand(2, 1, 2, 2, generator=gen))
    assert y.shape == (2, 3)
    qweight = net[1].weight()
    assert qweight.dtype == torch.qint8
    assert qweight.int_repr().abs().max() <= 127


def test_serialized_bytes_int8_is_about_a_quarter(tmp_path):
    gen = torch.Generator().manual_seed(2)
    ws, bs = _layers(gen, (256, 256, 10))
    dense = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    net = int8.int8_mlp(ws, bs, [w.abs().amax(1) / 127 for w in ws], [(1 / 255, 0), (0.02, 0)], (0.1, 128))
    ratio = int8.serialized_bytes(dense) / int8.serialized_bytes(net)
    assert 3.0 < ratio < 4.0
    path = tmp_path / "dense.pt"
    torch.save(dense.state_dict(), path)
    # the same bytes as a file, up to the archive's internal folder name (derived from the file name)
    assert abs(int8.serialized_bytes(dense) - path.stat().st_size) < 100


def test_int8_linear_clamps_to_the_symmetric_range():
    w = torch.tensor([[1.0, -2.0], [0.5, 0.25]])
    layer = int8.int8_linear(w, None, torch.tensor([1 / 127, 0.5 / 127]), (0.1, 0))
    q = layer.weight().int_repr()
    assert q.tolist() == [[127, -127], [127, 64]]


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(weight_scales=torch.ones(2)), ValueError, "one weight scale per output row"),
    (dict(weight_scales=torch.tensor([1.0, -1.0, 1.0])), ValueError, "positive"),
    (dict(out_qparams=(0.1, 300)), ValueError, "[0, 255]"),
    (dict(out_qparams=(0.0, 0)), ValueError, "scale must be positive"),
    (dict(out_qparams=0.1), TypeError, "(scale, zero_point)"),
    (dict(weight=torch.ones(3)), ValueError, "2-D"),
    (dict(bias=torch.ones(2)), ValueError, "bias must have shape"),
])
def test_int8_linear_rejects_bad_input(kwargs, error, words):
    args = dict(weight=torch.ones(3, 4), bias=torch.zeros(3), weight_scales=torch.ones(3), out_qparams=(0.1, 0))
    args.update(kwargs)
    with pytest.raises(error) as info:
        int8.int8_linear(**args)
    assert words in str(info.value)


def test_int8_mlp_rejects_mismatched_lists():
    ws, bs = _layers(torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="one per layer"):
        int8.int8_mlp(ws, bs[:1], [w.abs().amax(1) / 127 for w in ws], [(0.1, 0), (0.1, 0)], (0.1, 0))
    with pytest.raises(ValueError, match="at least one layer"):
        int8.int8_mlp([], [], [], [], (0.1, 0))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        int8.serialized_bytes("model")
