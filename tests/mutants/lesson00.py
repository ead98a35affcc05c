"""Wrong implementations of lesson 00's graded functions; each must fail its tests.

Each mutant is the solution cell, read from the solution notebook by ``Mutator``, with one plausible
mistake edited in (or, for a different wrong algorithm, a whole replacement source).
"""
from autograder.mutation import Mutator

LESSON = "00-measuring"

M = Mutator(LESSON, tests={
    "count-parameters": ["test-count-parameters"],
    "model-size-bytes": ["test-model-size-bytes"],
    "conv-linear-macs": ["test-conv-linear-macs"],
    "alexnet-macs": ["test-alexnet-macs"],
    "energy-per-image": ["test-energy-per-image"],
})

_COUNT = "    return int(sum(p.numel() for p in model.parameters()\n                   if p.requires_grad or not trainable_only))"
_SIZE_N = "    n = sum(p.numel() for p in model.parameters())"
_SIZE_RET = "    return (n * bits_per_param + 7) // 8"
_SIZE_CHECK = "    if isinstance(bits_per_param, bool) or not isinstance(bits_per_param, int) or bits_per_param < 1:"
_CONV_RET = "    return int(out_channels * (in_channels // groups) * kh * kw * h * w)"
_LIN_RET = "    return int(in_features * out_features)"
_ARITH = 'arithmetic = macs * (ENERGY_PJ["float32 multiply"] + ENERGY_PJ["float32 add"])'
_DRAM = 'dram = weights * (weight_bits / 32) * ENERGY_PJ["32-bit DRAM read"] / batch_size'

MUTANTS = [
    # ---------------------------------------------------------------- count_parameters
    M("counts only weights, not biases", "count-parameters",
      (_COUNT, "    return int(sum(p.numel() for n, p in model.named_parameters()\n"
               "                   if n.endswith('weight') and (p.requires_grad or not trainable_only)))")),
    M("ignores trainable_only", "count-parameters",
      (_COUNT, "    return int(sum(p.numel() for p in model.parameters()))")),
    M("counts tensors instead of values", "count-parameters",
      (_COUNT, "    return len([p for p in model.parameters() if p.requires_grad or not trainable_only])")),
    M("counts a shared weight once per layer", "count-parameters",
      (_COUNT, "    return int(sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False)\n"
               "                   if p.requires_grad or not trainable_only))")),
    M("trainable_only inverted (counts the frozen ones)", "count-parameters",
      ("if p.requires_grad or not trainable_only", "if (not p.requires_grad) or not trainable_only")),
    M("returns a tensor", "count-parameters",
      (_COUNT, "    return torch.tensor(sum(p.numel() for p in model.parameters()\n"
               "                            if p.requires_grad or not trainable_only))")),
    # ---------------------------------------------------------------- model_size_bytes
    M("rounds down instead of up", "model-size-bytes", (_SIZE_RET, "    return n * bits_per_param // 8")),
    M("whole bytes per parameter (bits // 8)", "model-size-bytes",
      (_SIZE_RET, "    return n * max(1, bits_per_param // 8)")),
    M("rounds up per parameter", "model-size-bytes",
      (_SIZE_RET, "    return n * ((bits_per_param + 7) // 8)")),
    M("accepts floats and bools", "model-size-bytes", (_SIZE_CHECK, "    if bits_per_param <= 0:")),
    M("counts only trainable parameters", "model-size-bytes",
      (_SIZE_N, "    n = sum(p.numel() for p in model.parameters() if p.requires_grad)")),
    M("calls mclib.measure instead of its own code", "model-size-bytes",
      (_SIZE_RET, "    return mclib.measure.model_bytes(model, bits_per_param)")),
    # ---------------------------------------------------------------- conv2d_macs / linear_macs
    M("ignores groups", "conv-linear-macs",
      (_CONV_RET, "    return int(out_channels * in_channels * kh * kw * h * w)")),
    M("int kernel not squared", "conv-linear-macs",
      ("    kh, kw = _pair(kernel_size)\n",
       "    kh, kw = (kernel_size, 1) if isinstance(kernel_size, int) else tuple(kernel_size)\n")),
    M("no divisibility check", "conv-linear-macs",
      ("    if in_channels % groups or out_channels % groups:\n", "    if False:\n")),
    M("checks only in_channels for groups", "conv-linear-macs",
      ("    if in_channels % groups or out_channels % groups:\n", "    if in_channels % groups:\n")),
    M("counts the bias in linear_macs", "conv-linear-macs",
      (_LIN_RET, "    return int(in_features * out_features + out_features)")),
    M("counts FLOPs (2 per MAC)", "conv-linear-macs",
      (_CONV_RET, "    return int(2 * out_channels * (in_channels // groups) * kh * kw * h * w)"),
      (_LIN_RET, "    return int(2 * in_features * out_features)")),
    M("divides the output channels by groups too", "conv-linear-macs",
      (_CONV_RET, "    return int((out_channels // groups) * (in_channels // groups) * kh * kw * h * w)")),
    M("output height used for both sides", "conv-linear-macs",
      (_CONV_RET, "    return int(out_channels * (in_channels // groups) * kh * kw * h * h)")),
    # ---------------------------------------------------------------- alexnet_macs_by_layer
    M("ignores AlexNet's groups", "alexnet-macs",
      ('"conv2": conv2d_macs(96, 256, 5, 27, groups=2)', '"conv2": conv2d_macs(96, 256, 5, 27)'),
      ('"conv4": conv2d_macs(384, 384, 3, 13, groups=2)', '"conv4": conv2d_macs(384, 384, 3, 13)'),
      ('"conv5": conv2d_macs(384, 256, 3, 13, groups=2)', '"conv5": conv2d_macs(384, 256, 3, 13)')),
    M("input instead of output resolution", "alexnet-macs",
      ('"conv1": conv2d_macs(3, 96, 11, 55)', '"conv1": conv2d_macs(3, 96, 11, 227)')),
    M("conv1 output computed with padding (57x57)", "alexnet-macs",
      ('"conv1": conv2d_macs(3, 96, 11, 55)', '"conv1": conv2d_macs(3, 96, 11, 57)')),
    M("conv2 at the resolution before pooling (55x55)", "alexnet-macs",
      ('"conv2": conv2d_macs(96, 256, 5, 27, groups=2)', '"conv2": conv2d_macs(96, 256, 5, 55, groups=2)')),
    M("leaves out the fully connected layers", "alexnet-macs",
      ('        "fc6": linear_macs(256 * 6 * 6, 4096),\n        "fc7": linear_macs(4096, 4096),\n'
       '        "fc8": linear_macs(4096, 1000),\n', "")),
    M("uses mclib.measure instead of its own functions", "alexnet-macs", source='''
def alexnet_macs_by_layer():
    return mclib.measure.macs_by_module(models.AlexNet(), torch.zeros(1, 3, 227, 227))
'''),
    # ---------------------------------------------------------------- energy_per_image_pj
    M("a MAC costs only the multiply", "energy-per-image",
      (_ARITH, 'arithmetic = macs * ENERGY_PJ["float32 multiply"]')),
    M("DRAM energy not scaled by the bits read", "energy-per-image",
      (_DRAM, 'dram = weights * ENERGY_PJ["32-bit DRAM read"] / batch_size')),
    M("DRAM energy per byte instead of per 32 bits", "energy-per-image",
      (_DRAM, 'dram = weights * (weight_bits / 8) * ENERGY_PJ["32-bit DRAM read"] / batch_size')),
    M("weights read once per image, batch ignored", "energy-per-image",
      (_DRAM, 'dram = weights * (weight_bits / 32) * ENERGY_PJ["32-bit DRAM read"]')),
    M("batch multiplies the DRAM energy", "energy-per-image",
      (_DRAM, 'dram = weights * (weight_bits / 32) * ENERGY_PJ["32-bit DRAM read"] * batch_size')),
    M("arithmetic scaled by the weight bits", "energy-per-image",
      (_ARITH, 'arithmetic = macs * (weight_bits / 32) * (ENERGY_PJ["float32 multiply"] + ENERGY_PJ["float32 add"])')),
    M("weights read from SRAM instead of DRAM", "energy-per-image",
      (_DRAM, 'dram = weights * (weight_bits / 32) * ENERGY_PJ["32-bit SRAM read"] / batch_size')),
    M("keys swapped", "energy-per-image",
      ('return {"arithmetic": float(arithmetic), "dram": float(dram)}',
       'return {"arithmetic": float(dram), "dram": float(arithmetic)}')),
    M("accepts a batch size of 0 or a fractional bit width", "energy-per-image",
      ('    for name, value in (("weight_bits", weight_bits), ("batch_size", batch_size)):\n'
       '        if isinstance(value, bool) or not isinstance(value, int) or value < 1:\n',
       '    for name, value in (("weight_bits", weight_bits), ("batch_size", batch_size)):\n'
       '        if value < 0:\n')),
    M("accepts negative counts", "energy-per-image",
      ("        if value < 0:\n            raise ValueError(f\"{name} must be >= 0, got {value!r}\")\n", "")),
]
