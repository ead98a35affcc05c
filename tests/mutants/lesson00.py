"""Wrong implementations of lesson 00's graded functions; each must fail its tests."""
LESSON = "00-measuring"

_COUNT = ["test-count-parameters"]
_SIZE = ["test-model-size-bytes"]
_MACS = ["test-conv-linear-macs"]
_ALEX = ["test-alexnet-macs"]

_CONV_OK = '''
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)

def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    kh, kw = _pair(kernel_size)
    h, w = _pair(output_hw)
    return int(out_channels * (in_channels // groups) * kh * kw * h * w)
'''

MUTANTS = [
    # count_parameters
    dict(name="counts only weights, not biases", cell="count-parameters", tests=_COUNT, source='''
def count_parameters(model, trainable_only=False):
    return int(sum(p.numel() for n, p in model.named_parameters()
                   if n.endswith("weight") and (p.requires_grad or not trainable_only)))
'''),
    dict(name="ignores trainable_only", cell="count-parameters", tests=_COUNT, source='''
def count_parameters(model, trainable_only=False):
    return int(sum(p.numel() for p in model.parameters()))
'''),
    dict(name="counts tensors instead of values", cell="count-parameters", tests=_COUNT, source='''
def count_parameters(model, trainable_only=False):
    return len([p for p in model.parameters() if p.requires_grad or not trainable_only])
'''),
    dict(name="counts a shared weight once per layer", cell="count-parameters", tests=_COUNT, source='''
def count_parameters(model, trainable_only=False):
    total = 0
    for m in model.modules():
        for p in m.parameters(recurse=False):
            if p.requires_grad or not trainable_only:
                total += p.numel()
    return total
'''),
    dict(name="trainable_only inverted", cell="count-parameters", tests=_COUNT, source='''
def count_parameters(model, trainable_only=False):
    return int(sum(p.numel() for p in model.parameters() if (not p.requires_grad) == trainable_only or not trainable_only))
'''),
    dict(name="returns a tensor", cell="count-parameters", tests=_COUNT, source='''
import torch
def count_parameters(model, trainable_only=False):
    return torch.tensor(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))
'''),
    # model_size_bytes
    dict(name="rounds down instead of up", cell="model-size-bytes", tests=_SIZE, source='''
def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:
        raise ValueError("bits_per_param must be a positive integer")
    return sum(p.numel() for p in model.parameters()) * bits_per_param // 8
'''),
    dict(name="whole bytes per parameter (bits // 8)", cell="model-size-bytes", tests=_SIZE, source='''
def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:
        raise ValueError("bits_per_param must be a positive integer")
    return sum(p.numel() for p in model.parameters()) * max(1, bits_per_param // 8)
'''),
    dict(name="rounds up per parameter", cell="model-size-bytes", tests=_SIZE, source='''
import math
def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:
        raise ValueError("bits_per_param must be a positive integer")
    return sum(p.numel() for p in model.parameters()) * math.ceil(bits_per_param / 8)
'''),
    dict(name="accepts floats and bools", cell="model-size-bytes", tests=_SIZE, source='''
import math
def model_size_bytes(model, bits_per_param=32):
    if bits_per_param <= 0:
        raise ValueError("bits_per_param must be positive")
    return math.ceil(sum(p.numel() for p in model.parameters()) * bits_per_param / 8)
'''),
    dict(name="counts only trainable parameters", cell="model-size-bytes", tests=_SIZE, source='''
def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:
        raise ValueError("bits_per_param must be a positive integer")
    return (sum(p.numel() for p in model.parameters() if p.requires_grad) * bits_per_param + 7) // 8
'''),
    dict(name="calls mclib.measure instead of its own code", cell="model-size-bytes", tests=_SIZE, source='''
from mclib.measure import model_bytes
def model_size_bytes(model, bits_per_param=32):
    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:
        raise ValueError("bits_per_param must be a positive integer")
    return model_bytes(model, bits_per_param)
'''),
    # conv2d_macs / linear_macs
    dict(name="ignores groups", cell="conv-linear-macs", tests=_MACS, source='''
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)
def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    kh, kw = _pair(kernel_size); h, w = _pair(output_hw)
    return int(out_channels * in_channels * kh * kw * h * w)
def linear_macs(in_features, out_features):
    return int(in_features * out_features)
'''),
    dict(name="int kernel not squared", cell="conv-linear-macs", tests=_MACS, source='''
def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    k = kernel_size[0] * kernel_size[1] if not isinstance(kernel_size, int) else kernel_size
    h, w = (output_hw, output_hw) if isinstance(output_hw, int) else output_hw
    return int(out_channels * (in_channels // groups) * k * h * w)
def linear_macs(in_features, out_features):
    return int(in_features * out_features)
'''),
    dict(name="no divisibility check", cell="conv-linear-macs", tests=_MACS, source='''
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)
def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    kh, kw = _pair(kernel_size); h, w = _pair(output_hw)
    return int(out_channels * (in_channels // groups) * kh * kw * h * w)
def linear_macs(in_features, out_features):
    return int(in_features * out_features)
'''),
    dict(name="counts the bias in linear_macs", cell="conv-linear-macs", tests=_MACS, source=_CONV_OK + '''
def linear_macs(in_features, out_features):
    return int(in_features * out_features + out_features)
'''),
    dict(name="checks only in_channels for groups", cell="conv-linear-macs", tests=_MACS, source='''
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)
def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups:
        raise ValueError("in_channels must be divisible by groups")
    kh, kw = _pair(kernel_size); h, w = _pair(output_hw)
    return int(out_channels * (in_channels // groups) * kh * kw * h * w)
def linear_macs(in_features, out_features):
    return int(in_features * out_features)
'''),
    dict(name="counts FLOPs (2 per MAC)", cell="conv-linear-macs", tests=_MACS, source='''
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)
def conv2d_macs(in_channels, out_channels, kernel_size, output_hw, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    kh, kw = _pair(kernel_size); h, w = _pair(output_hw)
    return int(2 * out_channels * (in_channels // groups) * kh * kw * h * w)
def linear_macs(in_features, out_features):
    return int(2 * in_features * out_features)
'''),
    # alexnet_macs_by_layer
    dict(name="ignores AlexNet's groups", cell="alexnet-macs", tests=_ALEX, source='''
def alexnet_macs_by_layer():
    return {"conv1": conv2d_macs(3, 96, 11, 55), "conv2": conv2d_macs(96, 256, 5, 27),
            "conv3": conv2d_macs(256, 384, 3, 13), "conv4": conv2d_macs(384, 384, 3, 13),
            "conv5": conv2d_macs(384, 256, 3, 13), "fc6": linear_macs(9216, 4096),
            "fc7": linear_macs(4096, 4096), "fc8": linear_macs(4096, 1000)}
'''),
    dict(name="input instead of output resolution", cell="alexnet-macs", tests=_ALEX, source='''
def alexnet_macs_by_layer():
    return {"conv1": conv2d_macs(3, 96, 11, 227), "conv2": conv2d_macs(96, 256, 5, 27, groups=2),
            "conv3": conv2d_macs(256, 384, 3, 13), "conv4": conv2d_macs(384, 384, 3, 13, groups=2),
            "conv5": conv2d_macs(384, 256, 3, 13, groups=2), "fc6": linear_macs(9216, 4096),
            "fc7": linear_macs(4096, 4096), "fc8": linear_macs(4096, 1000)}
'''),
    dict(name="conv1 output computed with padding (57x57)", cell="alexnet-macs", tests=_ALEX, source='''
def alexnet_macs_by_layer():
    return {"conv1": conv2d_macs(3, 96, 11, 57), "conv2": conv2d_macs(96, 256, 5, 27, groups=2),
            "conv3": conv2d_macs(256, 384, 3, 13), "conv4": conv2d_macs(384, 384, 3, 13, groups=2),
            "conv5": conv2d_macs(384, 256, 3, 13, groups=2), "fc6": linear_macs(9216, 4096),
            "fc7": linear_macs(4096, 4096), "fc8": linear_macs(4096, 1000)}
'''),
    dict(name="leaves out the fully connected layers", cell="alexnet-macs", tests=_ALEX, source='''
def alexnet_macs_by_layer():
    return {"conv1": conv2d_macs(3, 96, 11, 55), "conv2": conv2d_macs(96, 256, 5, 27, groups=2),
            "conv3": conv2d_macs(256, 384, 3, 13), "conv4": conv2d_macs(384, 384, 3, 13, groups=2),
            "conv5": conv2d_macs(384, 256, 3, 13, groups=2)}
'''),
    dict(name="uses mclib.measure instead of its own functions", cell="alexnet-macs", tests=_ALEX, source='''
import torch
from mclib import models
from mclib.measure import macs_by_module
def alexnet_macs_by_layer():
    return macs_by_module(models.AlexNet(), torch.zeros(1, 3, 227, 227))
'''),
]
