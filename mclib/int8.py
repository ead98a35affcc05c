"""Real int8 inference on the CPU from quantization parameters you computed yourself.

Lesson 04 simulates quantization in float32 ("fake quantization"). To measure what integer kernels
actually buy, ``int8_mlp`` turns the same numbers (per-channel symmetric int8 weight scales and the
calibrated per-tensor activation ranges) into a network that runs PyTorch's quantized CPU kernels
(fbgemm / x86 / onednn / qnnpack, shipped inside the torch wheel, no extra package, offline).

Conventions:
- Weights: signed int8 in [-127, 127], symmetric (zero point 0), one scale per output row.
- Activations: unsigned 8-bit in [0, 255] with a per-tensor scale and an integer zero point in
  [0, 255]. ``act_qparams[i]`` is the (scale, zero_point) of the input of layer ``i``; the output of
  layer ``i`` is requantized with the input parameters of layer ``i + 1`` (ReLU runs on the integers
  in between), and the last layer's output with ``out_qparams`` before being dequantized to float32.
- Accuracy depends on the engine and the CPU: PyTorch's x86/fbgemm kernel sums pairs of u8*s8
  products in int16 on CPUs without VNNI, which saturates when activations use all of [0, 255]
  (lesson 04 measures this); activation ranges of 7 bits ([0, 127], PyTorch's own x86 default)
  never saturate.
- Sizes are bytes of the serialized ``state_dict`` (``torch.save``), which is what a file on disk
  costs, including the scales and the format's overhead.

``torch.ao.nn.quantized`` and quantized tensors are deprecated in recent PyTorch releases (the
successor, torchao, targets GPUs and ``torch.compile``); their deprecation warnings are silenced here.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from typing import Sequence

import torch
from torch import nn

__all__ = ["int8_linear", "int8_mlp", "serialized_bytes"]

_QUIET = (r"torch\.ao\.quantization is deprecated", r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
          r".*quantiz.* deprecated")


@contextlib.contextmanager
def _quiet():
    """Silence PyTorch's deprecation warnings about quantized tensors and torch.ao."""
    with warnings.catch_warnings():
        for pattern in _QUIET:
            warnings.filterwarnings("ignore", message=pattern)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        yield


def _qparam_pair(name: str, pair) -> tuple[float, int]:
    try:
        scale, zero_point = pair
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (scale, zero_point) pair, got {pair!r}") from None
    scale, zero_point = float(scale), int(zero_point)
    if not scale > 0:
        raise ValueError(f"{name}: scale must be positive, got {scale}")
    if not 0 <= zero_point <= 255:
        raise ValueError(f"{name}: zero_point must lie in [0, 255] for unsigned 8-bit activations, "
                         f"got {zero_point}")
    return scale, zero_point


def int8_linear(weight: torch.Tensor, bias: torch.Tensor | None, weight_scales: torch.Tensor,
                out_qparams) -> nn.Module:
    """A ``torch.ao.nn.quantized.Linear`` with int8 weights ``round(weight / scale_row)`` clamped to
    [-127, 127] (one positive scale per output row) and output requantized with
    ``out_qparams = (scale, zero_point)``. Its input must be a quint8 tensor."""
    import torch.ao.nn.quantized as nnq

    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D tensor (out_features, in_features), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    weight = weight.detach().float()
    scales = torch.as_tensor(weight_scales, dtype=torch.float64).detach().flatten()
    if scales.numel() != weight.shape[0]:
        raise ValueError(f"need one weight scale per output row: weight has {weight.shape[0]} rows, "
                         f"got {scales.numel()} scales")
    if not bool((scales > 0).all()):
        raise ValueError("weight scales must all be positive")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    out_scale, out_zp = _qparam_pair("out_qparams", out_qparams)
    with _quiet():
        layer = nnq.Linear(weight.shape[1], weight.shape[0])
        # quantize_per_channel clamps to the dtype's [-128, 127]; clamp to the symmetric range first
        limit = (127 * scales).float().unsqueeze(1)
        w = torch.maximum(torch.minimum(weight, limit), -limit)
        qweight = torch.quantize_per_channel(w, scales, torch.zeros_like(scales, dtype=torch.int64),
                                             0, torch.qint8)
        layer.set_weight_bias(qweight, None if bias is None else bias.detach().float())
        layer.scale, layer.zero_point = out_scale, out_zp
    return layer.eval()


class _Quantize(nn.Module):
    def __init__(self, scale: float, zero_point: int):
        super().__init__()
        self.scale, self.zero_point = scale, zero_point

    def forward(self, x):
        with _quiet():
            return torch.quantize_per_tensor(x.flatten(1) if x.dim() > 2 else x, self.scale,
                                             self.zero_point, torch.quint8)


class _Dequantize(nn.Module):
    def forward(self, x):
        return x.dequantize()


class _ReLU(nn.Module):
    def forward(self, x):
        return torch.relu(x)  # on a quantized tensor: max(q, zero_point), still int8


def int8_mlp(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor | None],
             weight_scales: Sequence[torch.Tensor], act_qparams: Sequence, out_qparams) -> nn.Sequential:
    """An int8 MLP (Linear, ReLU, ..., Linear) that takes and returns float32 tensors.

    ``weights[i]``, ``biases[i]``, ``weight_scales[i]`` describe layer ``i`` (see ``int8_linear``);
    ``act_qparams[i]`` is the (scale, zero_point) of layer ``i``'s input; ``out_qparams`` those of
    the logits. Inputs with more than two dimensions are flattened, as ``mclib.models.MLP`` does."""
    n = len(weights)
    if n == 0:
        raise ValueError("int8_mlp needs at least one layer")
    for name, seq in (("biases", biases), ("weight_scales", weight_scales), ("act_qparams", act_qparams)):
        if len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries but there are {n} weights: give one per layer")
    first = _qparam_pair("act_qparams[0]", act_qparams[0])
    modules: list[nn.Module] = [_Quantize(*first)]
    for i in range(n):
        nxt = act_qparams[i + 1] if i + 1 < n else out_qparams
        modules.append(int8_linear(weights[i], biases[i], weight_scales[i], nxt))
        if i + 1 < n:
            modules.append(_ReLU())
    modules.append(_Dequantize())
    return nn.Sequential(*modules).eval()


def serialized_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the on-disk size, format overhead included."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    buffer = io.BytesIO()
    with _quiet():
        torch.save(model.state_dict(), buffer)
    return buffer.tell()
