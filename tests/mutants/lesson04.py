"""Wrong implementations of lesson 04's graded functions; each must fail its tests.

Each mutant is the solution cell with one plausible mistake edited in. The sources are derived from
the solution notebook at import time, so they stay in step with it; an edit that no longer applies
raises at import instead of silently testing the unchanged solution.
"""
from pathlib import Path

from autograder.notebooks import read_notebook

LESSON = "04-linear-quantization"

_NB = Path(__file__).resolve().parents[2] / "solutions" / LESSON / f"{LESSON}.ipynb"
_CELLS = {c.id: c.source for c in read_notebook(_NB).cells}

_TESTS = {
    "qparams": ["test-qparams"],
    "quantize-functions": ["test-quantize-functions"],
    "per-channel": ["test-per-channel"],
    "fake-quant-ste": ["test-fake-quant-ste"],
    "quantize-model": ["test-quantize-model"],
    "binary-ternary": ["test-binary-ternary"],
}


def _mutant(name: str, cell: str, *edits: tuple[str, str]) -> dict:
    source = _CELLS[cell]
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"mutant {name!r}: {old!r} occurs {source.count(old)} times in cell {cell!r}")
        source = source.replace(old, new)
    return dict(name=name, cell=cell, tests=_TESTS[cell], source=source)


MUTANTS = [
    # ---------------------------------------------------------------- qparams
    _mutant("symmetric range uses -2**(bits-1)", "qparams",
            ("        qmin = -qmax\n", "        qmin = -qmax - 1\n")),
    _mutant("zero point not rounded (a float zero point)", "qparams",
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = qmin - r_min / scale")),
    _mutant("zero point truncated instead of rounded", "qparams",
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = (qmin - r_min / scale).to(torch.int64)")),
    _mutant("zero point not clamped (taken from the range before widening)", "qparams",
            ("    r_min = torch.clamp(r_min, max=0.0)\n", "    raw_min = r_min\n    r_min = torch.clamp(r_min, max=0.0)\n"),
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = (qmin - torch.round(raw_min / scale)).to(torch.int64)"),
            ("        zero_point = torch.clamp(zero_point, qmin, qmax)\n", "")),
    _mutant("range not widened to include 0", "qparams",
            ("    r_min = torch.clamp(r_min, max=0.0)\n    r_max = torch.clamp(r_max, min=0.0)\n", "")),
    _mutant("no epsilon floor on the scale", "qparams",
            ("        scale = torch.clamp((r_max - r_min) / float(qmax - qmin), min=eps)",
             "        scale = (r_max - r_min) / float(qmax - qmin)"),
            ("        scale = torch.clamp(scale, min=eps)\n", "")),
    _mutant("accepts r_min > r_max", "qparams",
            ("    if bool((r_min > r_max).any()):\n", "    if False:\n")),
    _mutant("asymmetric scale divides by 2**bits (off by one)", "qparams",
            ("/ float(qmax - qmin)", "/ float(qmax - qmin + 1)")),
    _mutant("symmetric scale divides by qmax - qmin instead of half of it", "qparams",
            ("/ ((qmax - qmin) / 2)", "/ (qmax - qmin)")),
    _mutant("accepts 1-bit symmetric grids", "qparams",
            ("    if symmetric and bits < 2:\n", "    if symmetric and bits < 1:\n")),

    # ---------------------------------------------------------------- quantize / dequantize / fake_quantize
    _mutant("rounds half up instead of half to even", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.floor(x * inv_scale + 0.5) + zero_point")),
    _mutant("divides by the scale instead of multiplying by its float32 inverse", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.round(x / scale) + zero_point")),
    _mutant("multiplies by a float64 inverse scale", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point",
             "q = (torch.round(x.double() * (1.0 / scale.double())) + zero_point).float()")),
    _mutant("truncates instead of rounding", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.trunc(x * inv_scale) + zero_point")),
    _mutant("no clamp to [qmin, qmax]", "quantize-functions",
            ("return torch.clamp(q, qmin, qmax).to(torch.int64)", "return q.to(torch.int64)")),
    _mutant("clamps before adding the zero point", "quantize-functions",
            ("    q = torch.round(x * inv_scale) + zero_point\n    return torch.clamp(q, qmin, qmax).to(torch.int64)",
             "    q = torch.clamp(torch.round(x * inv_scale), qmin, qmax) + zero_point\n    return q.to(torch.int64)")),
    _mutant("quantize returns floats", "quantize-functions",
            ("return torch.clamp(q, qmin, qmax).to(torch.int64)", "return torch.clamp(q, qmin, qmax)")),
    _mutant("scales x in place", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "x *= inv_scale\n    q = torch.round(x) + zero_point")),
    _mutant("dequantize ignores the zero point", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale", "return q.to(torch.float32) * scale")),
    _mutant("dequantize adds the zero point", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale",
             "return (q + torch.as_tensor(zero_point)).to(torch.float32) * scale")),
    _mutant("dequantize divides by the scale", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale",
             "return (q - torch.as_tensor(zero_point)).to(torch.float32) / scale")),

    # ---------------------------------------------------------------- per channel
    _mutant("per-channel on the wrong axis (always axis 0)", "per-channel",
            ("    shape[axis] = -1\n", "    shape[0] = -1\n")),
    _mutant("per-channel on the wrong axis (always the last)", "per-channel",
            ("    shape[axis] = -1\n", "    shape[-1] = -1\n")),
    _mutant("per-channel divides by the scale", "per-channel",
            ("    return fake_quantize(w, scales.reshape(shape), zero_points.reshape(shape), qmin, qmax)",
             "    s, z = scales.reshape(shape), zero_points.reshape(shape).float()\n"
             "    return (torch.clamp(torch.round(w / s) + z, qmin, qmax) - z) * s")),
    _mutant("per-channel ignores the zero points", "per-channel",
            ("zero_points.reshape(shape), qmin, qmax)", "torch.zeros_like(zero_points).reshape(shape), qmin, qmax)")),
    _mutant("per-channel uses one mean scale", "per-channel",
            ("fake_quantize(w, scales.reshape(shape),", "fake_quantize(w, scales.mean(),")),
    _mutant("no ValueError when the counts do not match", "per-channel",
            ("    if scales.numel() != w.shape[axis] or zero_points.numel() != w.shape[axis]:\n",
             "    if False:\n")),

    # ---------------------------------------------------------------- straight-through estimator
    _mutant("STE gradient also passes outside the range", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None", "return grad_output, None, None, None, None")),
    _mutant("STE mask from x against the real range instead of the rounded value", "fake-quant-ste",
            ("ctx.save_for_backward((v >= qmin) & (v <= qmax))",
             "zp = torch.as_tensor(zero_point).to(torch.float32)\n"
             "        ctx.save_for_backward((x >= (qmin - zp) * scale) & (x <= (qmax - zp) * scale))")),
    _mutant("STE mask with strict inequalities", "fake-quant-ste",
            ("ctx.save_for_backward((v >= qmin) & (v <= qmax))", "ctx.save_for_backward((v > qmin) & (v < qmax))")),
    _mutant("STE returns the mask instead of gradient times mask", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None",
             "return inside.to(grad_output.dtype), None, None, None, None")),
    _mutant("STE gradient zero everywhere", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None",
             "return grad_output * 0, None, None, None, None")),
    _mutant("STE forward divides by the scale", "fake-quant-ste",
            ("        return fake_quantize(x, scale, zero_point, qmin, qmax)",
             "        z = torch.as_tensor(zero_point).to(torch.float32)\n"
             "        return (torch.clamp(torch.round(x / scale) + z, qmin, qmax) - z) * scale")),

    # ---------------------------------------------------------------- quantize_model / calibrate
    _mutant("per-channel weights over the input axis", "quantize-model",
            ("            dims = tuple(range(1, w.dim()))\n", "            dims = tuple(d for d in range(w.dim()) if d != 1)\n"),
            ("            shape = [-1] + [1] * (w.dim() - 1)\n", "            shape = [1, -1] + [1] * (w.dim() - 2)\n")),
    _mutant("activations quantized with w_bits", "quantize-model",
            ("qparams(self.act_min, self.act_max, self.a_bits)", "qparams(self.act_min, self.act_max, self.w_bits)")),
    _mutant("ignores per_channel", "quantize-model",
            ("        if self.per_channel:\n            dims", "        if False:\n            dims")),
    _mutant("quantizes the original model in place (no deep copy)", "quantize-model",
            ("    model = copy.deepcopy(model)\n", "")),
    _mutant("observer not updated in training mode", "quantize-model",
            ("        if self.training or self.observing:\n", "        if self.observing:\n")),
    _mutant("no moving average: each batch replaces the range", "quantize-model",
            ("        if torch.isinf(self.act_min):\n            self.act_min.copy_(lo)", "        if True:\n            self.act_min.copy_(lo)")),
    _mutant("running min / max instead of a moving average", "quantize-model",
            ("            self.act_min.copy_(self.act_min + c * (lo - self.act_min))\n"
             "            self.act_max.copy_(self.act_max + c * (hi - self.act_max))\n",
             "            self.act_min.copy_(torch.minimum(self.act_min, lo))\n"
             "            self.act_max.copy_(torch.maximum(self.act_max, hi))\n")),
    _mutant("weights quantized asymmetrically", "quantize-model",
            ("ws, wz, wlo, whi = qparams(w.detach().min(), w.detach().max(), self.w_bits, symmetric=True)",
             "ws, wz, wlo, whi = qparams(w.detach().min(), w.detach().max(), self.w_bits)"),
            ("self.w_bits,\n                                       symmetric=True)", "self.w_bits)")),
    _mutant("activations quantized symmetrically", "quantize-model",
            ("qparams(self.act_min, self.act_max, self.a_bits)", "qparams(self.act_min, self.act_max, self.a_bits, symmetric=True)")),
    _mutant("weights fake-quantized without the STE", "quantize-model",
            ("        w = FakeQuantSTE.apply(w, ws, wz, wlo, whi)", "        w = fake_quantize(w, ws, wz, wlo, whi)")),
    _mutant("calibrate leaves the observers on", "quantize-model",
            ("        for m in layers:\n            m.observing = False\n", "")),
    _mutant("wraps only top-level layers", "quantize-model",
            ("            else:\n                swap(child)\n", "")),

    # ---------------------------------------------------------------- ternarize / binarize
    _mutant("ternary alpha is the mean |w| over all weights", "binary-ternary",
            ("alpha = a[keep].mean()", "alpha = a.mean()")),
    _mutant("ternary threshold 0.7 * max|w|", "binary-ternary",
            ("delta = 0.7 * a.mean()", "delta = 0.7 * a.max()")),
    _mutant("ternary without the scale alpha", "binary-ternary",
            ("return alpha * torch.sign(w) * keep", "return torch.sign(w) * keep")),
    _mutant("ternary threshold on w instead of |w|", "binary-ternary",
            ("keep = a > delta", "keep = w > delta")),
    _mutant("binarize with torch.sign (zeros stay 0)", "binary-ternary",
            ("return torch.where(w >= 0, alpha, -alpha)", "return alpha * torch.sign(w)")),
    _mutant("binarize scale is mean(w), not mean|w|", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = w.mean()")),
    _mutant("binarize without a scale", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = torch.tensor(1.0)")),
    _mutant("binarize with one alpha per row", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = w.abs().mean(dim=-1, keepdim=True)")),
]
