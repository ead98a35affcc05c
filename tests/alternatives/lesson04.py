"""Correct answers to lesson 04's exercises written differently from the solution; each must keep
full marks and leave every later cell running (tests/test_alternatives.py)."""
LESSON = "04-linear-quantization"

ALTERNATIVES = [
    # ---------------------------------------------------------------- qparams
    dict(name="qparams with torch.where and round(-r_min / S) + qmin", cell="qparams", source='''
def qparams(r_min, r_max, bits, symmetric=False):
    if type(bits) is not int or bits < 1 or (symmetric and bits < 2):
        raise ValueError(f"bits must be an int >= 1 (>= 2 when symmetric), got {bits!r}")
    lo = torch.as_tensor(r_min, dtype=torch.float32)
    hi = torch.as_tensor(r_max, dtype=torch.float32)
    if (lo > hi).any():
        raise ValueError("r_min must be <= r_max")
    lo = torch.where(lo < 0, lo, torch.zeros_like(lo))
    hi = torch.where(hi > 0, hi, torch.zeros_like(hi))
    eps = torch.finfo(torch.float32).eps
    if symmetric:
        qmax = (1 << (bits - 1)) - 1
        qmin = -qmax
        scale = torch.max(lo.abs(), hi) / qmax
        return scale.clamp(min=eps), torch.zeros_like(scale, dtype=torch.long), qmin, qmax
    qmin, qmax = 0, (1 << bits) - 1
    scale = ((hi - lo) / (qmax - qmin)).clamp(min=eps)
    zero_point = (torch.round(-lo / scale) + qmin).clamp(qmin, qmax).long()
    return scale, zero_point, qmin, qmax
'''),
    # ---------------------------------------------------------------- quantize / dequantize / fake_quantize
    dict(name="quantize with tensor methods, dequantize via float zero point", cell="quantize-functions", source='''
def quantize(x, scale, zero_point, qmin, qmax):
    inv = torch.reciprocal(torch.as_tensor(scale, dtype=torch.float32))
    z = torch.as_tensor(zero_point, dtype=torch.float32)
    return x.mul(inv).round().add(z).clamp(min=qmin, max=qmax).long()


def dequantize(q, scale, zero_point):
    s = torch.as_tensor(scale, dtype=torch.float32)
    return (q.float() - torch.as_tensor(zero_point, dtype=torch.float32)) * s


def fake_quantize(x, scale, zero_point, qmin, qmax):
    q = quantize(x, scale, zero_point, qmin, qmax)
    return dequantize(q, scale, zero_point)
'''),
    # ---------------------------------------------------------------- per channel
    dict(name="per-channel as a loop over slices (movedim, stack)", cell="per-channel", source='''
def fake_quantize_per_channel(w, scales, zero_points, axis, qmin, qmax):
    n = w.shape[axis]
    if len(scales) != n or len(zero_points) != n:
        raise ValueError(f"expected {n} scales and zero points along axis {axis}, got {len(scales)} and {len(zero_points)}")
    moved = w.movedim(axis, 0)
    out = torch.stack([fake_quantize(moved[c], scales[c], zero_points[c], qmin, qmax) for c in range(n)])
    return out.movedim(0, axis)
'''),
    # ---------------------------------------------------------------- STE
    dict(name="STE that saves x and recomputes the mask in backward", cell="fake-quant-ste", source='''
class FakeQuantSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax):
        s = torch.as_tensor(scale, dtype=torch.float32)
        z = torch.as_tensor(zero_point, dtype=torch.float32)
        ctx.save_for_backward(x, s, z)
        ctx.qmin, ctx.qmax = qmin, qmax
        return fake_quantize(x, scale, zero_point, qmin, qmax)

    @staticmethod
    def backward(ctx, grad_output):
        x, s, z = ctx.saved_tensors
        v = torch.round(x * (1.0 / s)) + z
        mask = ((v >= ctx.qmin) & (v <= ctx.qmax)).to(grad_output.dtype)
        return grad_output * mask, None, None, None, None
'''),
    # ---------------------------------------------------------------- quantize_model / calibrate
    dict(name="QuantLayer with (1 - c) * min + c * x, aminmax, named_modules swap", cell="quantize-model", source='''
class QuantLayer(nn.Module):
    def __init__(self, layer, w_bits, a_bits, per_channel, averaging_constant=0.01):
        super().__init__()
        self.layer = layer
        self.w_bits, self.a_bits, self.per_channel = w_bits, a_bits, per_channel
        self.averaging_constant = averaging_constant
        self.observing = False
        self.train(layer.training)
        self.register_buffer("act_min", torch.tensor(float("inf")))
        self.register_buffer("act_max", torch.tensor(float("-inf")))

    def observe(self, x):
        lo, hi = torch.aminmax(x.detach())
        if not torch.isfinite(self.act_min):
            self.act_min.fill_(float(lo))
            self.act_max.fill_(float(hi))
        else:
            c = self.averaging_constant
            self.act_min.copy_((1 - c) * self.act_min + c * lo)
            self.act_max.copy_((1 - c) * self.act_max + c * hi)

    def forward(self, x):
        if self.observing or self.training:
            self.observe(x)
        if not torch.isfinite(self.act_min):
            raise RuntimeError("no activation range observed: calibrate the model first")
        x = FakeQuantSTE.apply(x, *qparams(self.act_min, self.act_max, self.a_bits))
        w = self.layer.weight
        if self.per_channel:
            flat = w.detach().flatten(1)
            s, z, lo, hi = qparams(flat.min(dim=1).values, flat.max(dim=1).values, self.w_bits, symmetric=True)
            view = (-1,) + (1,) * (w.dim() - 1)
            wq = FakeQuantSTE.apply(w, s.view(view), z.view(view), lo, hi)
        else:
            wq = FakeQuantSTE.apply(w, *qparams(w.detach().min(), w.detach().max(), self.w_bits, symmetric=True))
        if isinstance(self.layer, nn.Conv2d):
            return self.layer._conv_forward(x, wq, self.layer.bias)
        return F.linear(x, wq, self.layer.bias)


def quantize_model(model, w_bits, a_bits, per_channel):
    new = copy.deepcopy(model)
    targets = [name for name, m in new.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = new.get_submodule(parent_name) if parent_name else new
        setattr(parent, child, QuantLayer(getattr(parent, child), w_bits, a_bits, per_channel))
    return new


def calibrate(model, loader):
    mode = model.training
    quant_layers = [m for m in model.modules() if isinstance(m, QuantLayer)]
    model.eval()
    for m in quant_layers:
        m.observing = True
    with torch.no_grad():
        for batch in loader:
            model(batch[0])
    for m in quant_layers:
        m.observing = False
    model.train(mode)
    return model
'''),
    # ---------------------------------------------------------------- ternarize / binarize
    dict(name="ternarize / binarize with torch.where and masks", cell="binary-ternary", source='''
def ternarize(w):
    delta = 0.7 * w.abs().mean()
    mask = w.abs() > delta
    if mask.sum() == 0:
        return torch.zeros_like(w)
    alpha = w.abs()[mask].sum() / mask.sum()
    return torch.where(mask, torch.where(w > 0, alpha, -alpha), torch.zeros_like(w))


def binarize(w):
    alpha = w.abs().sum() / w.numel()
    signs = torch.sign(w) + (w == 0).to(w.dtype)     # zeros count as +1
    return alpha * signs
'''),
    # ---------------------------------------------------------------- quantize_multiplier / integer_linear
    dict(name="math.frexp loop; Jacob's expanded zero-point term; add-half-then-shift with a tie fix", cell="integer-linear", source='''
import math


def quantize_multiplier(M):
    values = torch.as_tensor(M, dtype=torch.float64)
    m0s, shifts = [], []
    for m in values.reshape(-1).tolist():
        if not 0.0 < m < 1.0:
            raise ValueError(f"M must lie in (0, 1), got {m}")
        f, e = math.frexp(m)
        q = round(f * (1 << 31))
        if q == 1 << 31:
            q, e = q >> 1, e + 1
        m0s.append(q)
        shifts.append(31 - e)
    return (torch.tensor(m0s, dtype=torch.int64).reshape(values.shape),
            torch.tensor(shifts, dtype=torch.int64).reshape(values.shape))


def integer_linear(q_x, x_zero_point, q_w, q_bias, m0, shift, y_zero_point, qmin=0, qmax=255):
    x = q_x.long()
    w = q_w.long()
    # Jacob et al.: sum_j w (x - zx) = sum_j w x - zx * sum_j w, the row sums computed once
    acc = x @ w.t() - x_zero_point * w.sum(dim=1)
    if q_bias is not None:
        acc += q_bias.long()
    m0 = torch.as_tensor(m0).long()
    shift = torch.as_tensor(shift).long()
    prod = acc * m0
    half = torch.ones_like(shift) << (shift - 1)
    q = (prod + half) >> shift                        # rounds half up
    tie = (prod & ((half << 1) - 1)) == half          # exactly half-way
    q = torch.where(tie & (q % 2 != 0), q - 1, q)     # ... then to the even neighbour
    return (q + y_zero_point).clamp(qmin, qmax)
'''),
    dict(name="torch.div floor and torch.remainder; shift from log2", cell="integer-linear", source='''
def quantize_multiplier(M):
    M = torch.as_tensor(M, dtype=torch.float64)
    if torch.any(~((M > 0) & (M < 1))):
        raise ValueError("the multiplier must lie strictly between 0 and 1")
    e = torch.floor(torch.log2(M)).to(torch.int64) + 1          # M = f * 2**e with f in [0.5, 1)
    f = M * torch.pow(2.0, -e.double())
    e = torch.where(f >= 1.0, e + 1, e)                          # guard against log2 rounding
    e = torch.where(f < 0.5, e - 1, e)
    f = M * torch.pow(2.0, -e.double())
    m0 = torch.round(f * 2.0 ** 31).to(torch.int64)
    shift = 31 - e
    big = m0 >= 2 ** 31
    return torch.where(big, m0 // 2, m0), torch.where(big, shift - 1, shift)


def integer_linear(q_x, x_zero_point, q_w, q_bias, m0, shift, y_zero_point, qmin=0, qmax=255):
    acc = torch.matmul(q_x.to(torch.int64) - int(x_zero_point), q_w.to(torch.int64).transpose(0, 1))
    if q_bias is not None:
        acc = acc + q_bias.to(torch.int64)
    m0 = torch.as_tensor(m0, dtype=torch.int64)
    divisor = torch.pow(torch.full_like(torch.as_tensor(shift, dtype=torch.int64), 2), torch.as_tensor(shift, dtype=torch.int64))
    prod = acc * m0
    floor = torch.div(prod, divisor, rounding_mode="floor")
    rem2 = 2 * torch.remainder(prod, divisor)
    up = (rem2 > divisor) | ((rem2 == divisor) & (torch.remainder(floor, 2) == 1))
    return torch.clamp(floor + up.to(torch.int64) + int(y_zero_point), qmin, qmax)
'''),
]
