"""Wrong implementations of lesson 04's graded functions; each must fail its tests.

Each mutant is the solution cell, read from the solution notebook by ``autograder.mutation.Mutator``,
with one plausible mistake edited in (or, with ``source=``, a different wrong algorithm).
"""
from autograder.mutation import Mutator

LESSON = "04-linear-quantization"

M = Mutator(LESSON, tests={
    "qparams": ["test-qparams"],
    "quantize-functions": ["test-quantize-functions"],
    "per-channel": ["test-per-channel"],
    "fake-quant-ste": ["test-fake-quant-ste"],
    "quantize-model": ["test-quantize-model"],
    "binary-ternary": ["test-binary-ternary"],
    "integer-linear": ["test-integer-linear"],
})

MUTANTS = [
    # ---------------------------------------------------------------- qparams
    M("symmetric range uses -2**(bits-1)", "qparams",
            ("        qmin = -qmax\n", "        qmin = -qmax - 1\n")),
    M("zero point not rounded (a float zero point)", "qparams",
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = qmin - r_min / scale")),
    M("zero point truncated instead of rounded", "qparams",
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = (qmin - r_min / scale).to(torch.int64)")),
    M("zero point not clamped (taken from the range before widening)", "qparams",
            ("    r_min = torch.clamp(r_min, max=0.0)\n", "    raw_min = r_min\n    r_min = torch.clamp(r_min, max=0.0)\n"),
            ("zero_point = (qmin - torch.round(r_min / scale)).to(torch.int64)",
             "zero_point = (qmin - torch.round(raw_min / scale)).to(torch.int64)"),
            ("        zero_point = torch.clamp(zero_point, qmin, qmax)\n", "")),
    M("range not widened to include 0", "qparams",
            ("    r_min = torch.clamp(r_min, max=0.0)\n    r_max = torch.clamp(r_max, min=0.0)\n", "")),
    M("no epsilon floor on the scale", "qparams",
            ("        scale = torch.clamp((r_max - r_min) / float(qmax - qmin), min=eps)",
             "        scale = (r_max - r_min) / float(qmax - qmin)"),
            ("        scale = torch.clamp(scale, min=eps)\n", "")),
    M("accepts r_min > r_max", "qparams",
            ("    if bool((r_min > r_max).any()):\n", "    if False:\n")),
    M("asymmetric scale divides by 2**bits (off by one)", "qparams",
            ("/ float(qmax - qmin)", "/ float(qmax - qmin + 1)")),
    M("symmetric scale divides by qmax - qmin instead of half of it", "qparams",
            ("/ ((qmax - qmin) / 2)", "/ (qmax - qmin)")),
    M("accepts 1-bit symmetric grids", "qparams",
            ("    if symmetric and bits < 2:\n", "    if symmetric and bits < 1:\n")),

    # ---------------------------------------------------------------- quantize / dequantize / fake_quantize
    M("rounds half up instead of half to even", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.floor(x * inv_scale + 0.5) + zero_point")),
    M("divides by the scale instead of multiplying by its float32 inverse", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.round(x / scale) + zero_point")),
    M("multiplies by a float64 inverse scale", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point",
             "q = (torch.round(x.double() * (1.0 / scale.double())) + zero_point).float()")),
    M("truncates instead of rounding", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "q = torch.trunc(x * inv_scale) + zero_point")),
    M("no clamp to [qmin, qmax]", "quantize-functions",
            ("return torch.clamp(q, qmin, qmax).to(torch.int64)", "return q.to(torch.int64)")),
    M("clamps before adding the zero point", "quantize-functions",
            ("    q = torch.round(x * inv_scale) + zero_point\n    return torch.clamp(q, qmin, qmax).to(torch.int64)",
             "    q = torch.clamp(torch.round(x * inv_scale), qmin, qmax) + zero_point\n    return q.to(torch.int64)")),
    M("quantize returns floats", "quantize-functions",
            ("return torch.clamp(q, qmin, qmax).to(torch.int64)", "return torch.clamp(q, qmin, qmax)")),
    M("scales x in place", "quantize-functions",
            ("q = torch.round(x * inv_scale) + zero_point", "x *= inv_scale\n    q = torch.round(x) + zero_point")),
    M("dequantize ignores the zero point", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale", "return q.to(torch.float32) * scale")),
    M("dequantize adds the zero point", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale",
             "return (q + torch.as_tensor(zero_point)).to(torch.float32) * scale")),
    M("dequantize divides by the scale", "quantize-functions",
            ("return (q - torch.as_tensor(zero_point)).to(torch.float32) * scale",
             "return (q - torch.as_tensor(zero_point)).to(torch.float32) / scale")),

    # ---------------------------------------------------------------- per channel
    M("per-channel on the wrong axis (always axis 0)", "per-channel",
            ("    shape[axis] = -1\n", "    shape[0] = -1\n")),
    M("per-channel on the wrong axis (always the last)", "per-channel",
            ("    shape[axis] = -1\n", "    shape[-1] = -1\n")),
    M("per-channel divides by the scale", "per-channel",
            ("    return fake_quantize(w, scales.reshape(shape), zero_points.reshape(shape), qmin, qmax)",
             "    s, z = scales.reshape(shape), zero_points.reshape(shape).float()\n"
             "    return (torch.clamp(torch.round(w / s) + z, qmin, qmax) - z) * s")),
    M("per-channel ignores the zero points", "per-channel",
            ("zero_points.reshape(shape), qmin, qmax)", "torch.zeros_like(zero_points).reshape(shape), qmin, qmax)")),
    M("per-channel uses one mean scale", "per-channel",
            ("fake_quantize(w, scales.reshape(shape),", "fake_quantize(w, scales.mean(),")),
    M("no ValueError when the counts do not match", "per-channel",
            ("    if scales.numel() != w.shape[axis] or zero_points.numel() != w.shape[axis]:\n",
             "    if False:\n")),

    # ---------------------------------------------------------------- straight-through estimator
    M("STE gradient also passes outside the range", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None", "return grad_output, None, None, None, None")),
    M("STE mask from x against the real range instead of the rounded value", "fake-quant-ste",
            ("ctx.save_for_backward((v >= qmin) & (v <= qmax))",
             "zp = torch.as_tensor(zero_point).to(torch.float32)\n"
             "        ctx.save_for_backward((x >= (qmin - zp) * scale) & (x <= (qmax - zp) * scale))")),
    M("STE mask with strict inequalities", "fake-quant-ste",
            ("ctx.save_for_backward((v >= qmin) & (v <= qmax))", "ctx.save_for_backward((v > qmin) & (v < qmax))")),
    M("STE returns the mask instead of gradient times mask", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None",
             "return inside.to(grad_output.dtype), None, None, None, None")),
    M("STE gradient zero everywhere", "fake-quant-ste",
            ("return grad_output * inside, None, None, None, None",
             "return grad_output * 0, None, None, None, None")),
    M("STE forward divides by the scale", "fake-quant-ste",
            ("        return fake_quantize(x, scale, zero_point, qmin, qmax)",
             "        z = torch.as_tensor(zero_point).to(torch.float32)\n"
             "        return (torch.clamp(torch.round(x / scale) + z, qmin, qmax) - z) * scale")),

    # ---------------------------------------------------------------- quantize_model / calibrate
    M("per-channel weights over the input axis", "quantize-model",
            ("            dims = tuple(range(1, w.dim()))\n", "            dims = tuple(d for d in range(w.dim()) if d != 1)\n"),
            ("            shape = [-1] + [1] * (w.dim() - 1)\n", "            shape = [1, -1] + [1] * (w.dim() - 2)\n")),
    M("activations quantized with w_bits", "quantize-model",
            ("qparams(self.act_min, self.act_max, self.a_bits)", "qparams(self.act_min, self.act_max, self.w_bits)")),
    M("ignores per_channel", "quantize-model",
            ("        if self.per_channel:\n            dims", "        if False:\n            dims")),
    M("quantizes the original model in place (no deep copy)", "quantize-model",
            ("    model = copy.deepcopy(model)\n", "")),
    M("observer not updated in training mode", "quantize-model",
            ("        if self.training or self.observing:\n", "        if self.observing:\n")),
    M("no moving average: each batch replaces the range", "quantize-model",
            ("        if torch.isinf(self.act_min):\n            self.act_min.copy_(lo)", "        if True:\n            self.act_min.copy_(lo)")),
    M("running min / max instead of a moving average", "quantize-model",
            ("            self.act_min.copy_(self.act_min + c * (lo - self.act_min))\n"
             "            self.act_max.copy_(self.act_max + c * (hi - self.act_max))\n",
             "            self.act_min.copy_(torch.minimum(self.act_min, lo))\n"
             "            self.act_max.copy_(torch.maximum(self.act_max, hi))\n")),
    M("weights quantized asymmetrically", "quantize-model",
            ("ws, wz, wlo, whi = qparams(w.detach().min(), w.detach().max(), self.w_bits, symmetric=True)",
             "ws, wz, wlo, whi = qparams(w.detach().min(), w.detach().max(), self.w_bits)"),
            ("self.w_bits,\n                                       symmetric=True)", "self.w_bits)")),
    M("activations quantized symmetrically", "quantize-model",
            ("qparams(self.act_min, self.act_max, self.a_bits)", "qparams(self.act_min, self.act_max, self.a_bits, symmetric=True)")),
    M("weights fake-quantized without the STE", "quantize-model",
            ("        w = FakeQuantSTE.apply(w, ws, wz, wlo, whi)", "        w = fake_quantize(w, ws, wz, wlo, whi)")),
    M("calibrate leaves the observers on", "quantize-model",
            ("        for m in layers:\n            m.observing = False\n", "")),
    M("wraps only top-level layers", "quantize-model",
            ("            else:\n                swap(child)\n", "")),

    # ---------------------------------------------------------------- ternarize / binarize
    M("ternary alpha is the mean |w| over all weights", "binary-ternary",
            ("alpha = a[keep].mean()", "alpha = a.mean()")),
    M("ternary threshold 0.7 * max|w|", "binary-ternary",
            ("delta = 0.7 * a.mean()", "delta = 0.7 * a.max()")),
    M("ternary without the scale alpha", "binary-ternary",
            ("return alpha * torch.sign(w) * keep", "return torch.sign(w) * keep")),
    M("ternary threshold on w instead of |w|", "binary-ternary",
            ("keep = a > delta", "keep = w > delta")),
    M("binarize with torch.sign (zeros stay 0)", "binary-ternary",
            ("return torch.where(w >= 0, alpha, -alpha)", "return alpha * torch.sign(w)")),
    M("binarize scale is mean(w), not mean|w|", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = w.mean()")),
    M("binarize without a scale", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = torch.tensor(1.0)")),
    M("binarize with one alpha per row", "binary-ternary",
            ("alpha = w.abs().mean()", "alpha = w.abs().mean(dim=-1, keepdim=True)")),

    # ---------------------------------------------------------------- quantize_multiplier / integer_linear
    M("quantize_multiplier truncates the mantissa", "integer-linear",
      ("m0 = torch.round(mantissa * 2.0 ** 31).to(torch.int64)", "m0 = (mantissa * 2.0 ** 31).to(torch.int64)")),
    M("quantize_multiplier lets m0 reach 2**31", "integer-linear",
      ("    carry = m0 == 2 ** 31 ", "    carry = m0 < 0 ")),
    M("quantize_multiplier shift off by one", "integer-linear",
      ("shift = 31 - exponent.to(torch.int64)", "shift = 30 - exponent.to(torch.int64)")),
    M("quantize_multiplier accepts M >= 1", "integer-linear",
      ("((M > 0) & (M < 1)).all()", "(M > 0).all()")),
    M("quantize_multiplier accepts M <= 0", "integer-linear",
      ("((M > 0) & (M < 1)).all()", "(M < 1).all()")),
    M("quantize_multiplier returns int32 shifts", "integer-linear",
      ("    shift = 31 - exponent.to(torch.int64)\n", "    shift = 31 - exponent\n")),
    M("integer_linear ignores the input zero point", "integer-linear",
      ("acc = (q_x - x_zero_point) @ q_w.T", "acc = q_x @ q_w.T")),
    M("integer_linear adds the input zero point", "integer-linear",
      ("acc = (q_x - x_zero_point) @ q_w.T", "acc = (q_x + x_zero_point) @ q_w.T")),
    M("integer_linear drops the bias", "integer-linear",
      ("        acc = acc + q_bias.to(torch.int64)\n", "        pass\n")),
    M("integer_linear rounds half up", "integer-linear",
      ("((rem > half) | ((rem == half) & (q % 2 == 1)))", "(rem >= half)")),
    M("integer_linear rounds half away from zero", "integer-linear",
      ("((rem > half) | ((rem == half) & (q % 2 == 1)))", "((rem > half) | ((rem == half) & (q >= 0)))")),
    M("integer_linear truncates (floor) instead of rounding", "integer-linear",
      ("    q = q + ((rem > half) | ((rem == half) & (q % 2 == 1))).to(torch.int64)   # round half to even\n", "")),
    M("integer_linear shifts one bit too few", "integer-linear",
      ("    q = prod >> shift ", "    shift = shift - 1\n    q = prod >> shift ")),
    M("integer_linear without the clamp", "integer-linear",
      ("return torch.clamp(q + y_zero_point, qmin, qmax)", "return q + y_zero_point")),
    M("integer_linear clamps before adding the zero point", "integer-linear",
      ("return torch.clamp(q + y_zero_point, qmin, qmax)", "return torch.clamp(q, qmin, qmax) + y_zero_point")),
    M("integer_linear clamps to [0, 255] whatever qmin, qmax say", "integer-linear",
      ("return torch.clamp(q + y_zero_point, qmin, qmax)", "return torch.clamp(q + y_zero_point, 0, 255)")),
    M("integer_linear computes in uint8 (no int64 conversion)", "integer-linear",
      ("    q_x, q_w = q_x.to(torch.int64), q_w.to(torch.int64)\n", "    q_w = q_w.to(q_x.dtype)\n")),
    M("integer_linear through float32", "integer-linear",
      ("    prod = acc * m0\n", "    q = torch.round(acc.float() * (m0.float() * 2.0 ** -shift.float())).to(torch.int64)\n"
                              "    return torch.clamp(q + y_zero_point, qmin, qmax)\n    prod = acc * m0\n")),
    M("integer_linear calls PyTorch's quantized kernel", "integer-linear", source="""
def quantize_multiplier(M):
    M = torch.as_tensor(M, dtype=torch.float64)
    if not bool(((M > 0) & (M < 1)).all()):
        raise ValueError("M must lie in (0, 1)")
    mantissa, exponent = torch.frexp(M)
    m0 = torch.round(mantissa * 2.0 ** 31).to(torch.int64)
    shift = 31 - exponent.to(torch.int64)
    carry = m0 == 2 ** 31
    return torch.where(carry, m0 // 2, m0), torch.where(carry, shift - 1, shift)


def integer_linear(q_x, x_zero_point, q_w, q_bias, m0, shift, y_zero_point, qmin=0, qmax=255):
    # scales chosen so that M = m0 * 2**-shift: s_x = 1, s_w = M, s_y = 1
    M = (torch.as_tensor(m0).double() * 2.0 ** -torch.as_tensor(shift).double()).reshape(-1).expand(q_w.shape[0]).contiguous()
    tq_x = torch.quantize_per_tensor((q_x.long() - x_zero_point).float(), 1.0, x_zero_point, torch.quint8)
    tq_w = torch.quantize_per_channel((q_w.long() * M[:, None]).float(), M, torch.zeros(len(M), dtype=torch.int64), 0, torch.qint8)
    bias = None if q_bias is None else (q_bias.double() * M).float()
    y = torch.ops.quantized.linear(tq_x, torch.ops.quantized.linear_prepack(tq_w, bias), 1.0, y_zero_point)
    return torch.clamp(y.int_repr().long(), qmin, qmax)
"""),
]
