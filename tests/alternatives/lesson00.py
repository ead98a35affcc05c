"""Correct answers to lesson 00's exercises written differently from the solution; each must keep
full marks and leave every later cell running (tests/test_alternatives.py)."""
LESSON = "00-measuring"

ALTERNATIVES = [
    # ---------------------------------------------------------------- count_parameters
    dict(name="explicit loop over named_parameters with math.prod of the shape", cell="count-parameters", source='''
import math

def count_parameters(model, trainable_only=False):
    total = 0
    for _name, p in model.named_parameters():
        if trainable_only and not p.requires_grad:
            continue
        total += math.prod(p.shape)
    return total
'''),
    dict(name="deduplicates by id itself and uses nelement()", cell="count-parameters", source='''
def count_parameters(model, trainable_only=False):
    seen = {}
    for m in model.modules():
        for p in m.parameters(recurse=False):
            seen[id(p)] = p
    return sum(p.nelement() for p in seen.values() if p.requires_grad or not trainable_only)
'''),
    # ---------------------------------------------------------------- model_size_bytes
    dict(name="math.ceil of bits / 8, type() check", cell="model-size-bytes", source='''
import math

def model_size_bytes(model, bits_per_param=32):
    if type(bits_per_param) is not int or bits_per_param <= 0:
        raise ValueError("bits_per_param must be a positive int, e.g. 32, 8 or 4")
    total_bits = sum(p.numel() for p in model.parameters()) * bits_per_param
    return math.ceil(total_bits / 8)
'''),
    dict(name="ceiling division with negative floor division, parameters_to_vector", cell="model-size-bytes", source='''
from torch.nn.utils import parameters_to_vector

def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int):
        raise ValueError(f"bits_per_param must be an int, not {type(bits_per_param).__name__}")
    if bits_per_param < 1:
        raise ValueError("bits_per_param must be at least 1")
    n = parameters_to_vector(model.parameters()).numel()
    return -(-n * bits_per_param // 8)
'''),
    # ---------------------------------------------------------------- conv2d_macs / linear_macs
    dict(name="math.prod over the shapes", cell="conv-linear-macs", source='''
import math

def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups != 0 or out_channels % groups != 0:
        raise ValueError("in_channels and out_channels must be multiples of groups")
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    out = (output_hw, output_hw) if isinstance(output_hw, int) else output_hw
    return math.prod([out_channels, in_channels // groups, *kernel, *out])


def linear_macs(in_features, out_features):
    return in_features * out_features
'''),
    dict(name="torch's FlopCounterMode on a meta-device layer (another PyTorch tool)", cell="conv-linear-macs", source='''
from torch.utils.flop_counter import FlopCounterMode

def _macs_of(layer, x):
    counter = FlopCounterMode(display=False)
    with counter:
        layer(x)
    return int(counter.get_total_flops() // 2)


def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels and out_channels")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    h, w = (output_hw, output_hw) if isinstance(output_hw, int) else output_hw
    with torch.device("meta"):
        conv = nn.Conv2d(in_channels, out_channels, (kh, kw), groups=groups, bias=False)
        x = torch.empty(1, in_channels, h + kh - 1, w + kw - 1)
    return _macs_of(conv, x)


def linear_macs(in_features, out_features):
    with torch.device("meta"):
        return _macs_of(nn.Linear(in_features, out_features, bias=False), torch.empty(1, in_features))
'''),
    # ---------------------------------------------------------------- alexnet_macs_by_layer
    dict(name="output sizes computed from a layer table", cell="alexnet-macs", source='''
def alexnet_macs_by_layer():
    # (name, in, out, kernel, stride, padding, groups, pool before)
    convs = [("conv1", 3, 96, 11, 4, 0, 1, False), ("conv2", 96, 256, 5, 1, 2, 2, True),
             ("conv3", 256, 384, 3, 1, 1, 1, True), ("conv4", 384, 384, 3, 1, 1, 2, False),
             ("conv5", 384, 256, 3, 1, 1, 2, False)]
    side, result = 227, {}
    for name, cin, cout, k, s, p, g, pool in convs:
        if pool:
            side = (side - 3) // 2 + 1
        side = (side + 2 * p - k) // s + 1
        result[name] = conv2d_macs(cin, cout, k, (side, side), groups=g)
    side = (side - 3) // 2 + 1
    sizes = [256 * side * side, 4096, 4096, 1000]
    for i, name in enumerate(["fc6", "fc7", "fc8"]):
        result[name] = linear_macs(sizes[i], sizes[i + 1])
    return result
'''),
    dict(name="layer shapes read from mclib's AlexNet with forward hooks", cell="alexnet-macs", source='''
def alexnet_macs_by_layer():
    net = models.AlexNet().eval()
    result, hooks = {}, []

    def record(name, layer):
        def hook(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                result[name] = conv2d_macs(module.in_channels, module.out_channels, module.kernel_size,
                                           tuple(output.shape[-2:]), groups=module.groups)
            else:
                result[name] = linear_macs(module.in_features, module.out_features)
        return hook

    for name in ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]:
        layer = getattr(net, name)
        hooks.append(layer.register_forward_hook(record(name, layer)))
    with torch.no_grad():
        net(torch.zeros(1, 3, 227, 227))
    for h in hooks:
        h.remove()
    return result
'''),
    # ---------------------------------------------------------------- energy_per_image_pj
    dict(name="literal constants, numpy floats, operator.index validation", cell="energy-per-image", source='''
import operator
import numpy as np

def energy_per_image_pj(macs, weights, weight_bits=32, batch_size=1):
    if macs < 0 or weights < 0:
        raise ValueError("macs and weights cannot be negative")
    try:
        weight_bits, batch_size = operator.index(weight_bits), operator.index(batch_size)
    except TypeError:
        raise ValueError("weight_bits and batch_size must be integers") from None
    if weight_bits <= 0 or batch_size <= 0:
        raise ValueError("weight_bits and batch_size must be positive")
    return {"arithmetic": np.float64(macs) * (3.7 + 0.9),
            "dram": np.float64(weights) * weight_bits / 32 * 640.0 / batch_size}
'''),
    dict(name="per-bit DRAM energy, dict() constructor, int checks by rounding", cell="energy-per-image", source='''
PJ_PER_DRAM_BIT = 640.0 / 32

def energy_per_image_pj(macs, weights, weight_bits=32, batch_size=1):
    for value in (weight_bits, batch_size):
        if value <= 0 or int(value) != value:
            raise ValueError(f"weight_bits and batch_size must be positive integers, got {value}")
    if min(macs, weights) < 0:
        raise ValueError("counts must be non-negative")
    per_batch = weights * weight_bits * PJ_PER_DRAM_BIT
    return dict(arithmetic=macs * 3.7 + macs * 0.9, dram=per_batch / batch_size)
'''),
]
