"""Wrong implementations of lesson 02's graded functions; each must fail its tests.

Each mutant is the solution cell with one plausible mistake, written as a replacement of a line of
the reference solution (``_mutate`` checks that the line is there, so a change to the notebook that
would silently turn a mutant into the correct answer fails loudly here instead).
"""
LESSON = "02-pruning"

_MAG_T = ["test-magnitude-prune-mask"]
_MASK_T = ["test-apply-masks"]
_SENS_T = ["test-sensitivity-scan"]
_GRAN_T = ["test-granular-prune-mask"]
_STORE_T = ["test-sparse-storage-bytes"]
_CHAN_T = ["test-channel-prune"]

_MAG = '''
def magnitude_prune_mask(weight, sparsity):
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    n_prune = round(sparsity * weight.numel())
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    if n_prune > 0:
        smallest = torch.topk(weight.detach().abs().flatten(), n_prune, largest=False).indices
        keep[smallest] = False
    return keep.view(weight.shape)
'''

_APPLY = '''
def apply_masks(model, masks):
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in params:
            raise ValueError(f"the model has no parameter named {name!r}")
        param = params[name]
        keep = mask.to(device=param.device, dtype=param.dtype)
        with torch.no_grad():
            param.mul_(keep)
        param.register_hook(lambda grad, keep=keep: grad * keep)
    return model
'''

_SENS = '''
def sensitivity_scan(model, layer_names, sparsities, evaluate):
    results = {}
    for name in layer_names:
        weight = model.get_submodule(name).weight
        original = weight.detach().clone()
        scores = []
        for s in sparsities:
            with torch.no_grad():
                weight.copy_(original * magnitude_prune_mask(original, s))
            scores.append(float(evaluate(model)))
        with torch.no_grad():
            weight.copy_(original)
        results[name] = scores
    return results
'''

_GRAN = '''
GRANULARITIES = ("fine", "vector", "kernel", "filter")


def granular_prune_mask(weight, sparsity, granularity):
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}")
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    group_dims = GRANULARITIES.index(granularity)
    lead = tuple(weight.shape[:4 - group_dims])
    norms = weight.detach().reshape(*lead, -1).norm(p=2, dim=-1).flatten()
    n_prune = round(sparsity * norms.numel())
    keep = torch.ones(norms.numel(), dtype=torch.bool, device=weight.device)
    if n_prune > 0:
        keep[torch.topk(norms, n_prune, largest=False).indices] = False
    return keep.view(*lead, *([1] * group_dims)).expand(weight.shape).clone()
'''

_STORE = '''
def sparse_storage_bytes(weight, index_bits):
    if isinstance(index_bits, bool) or not isinstance(index_bits, int) or index_bits < 1:
        raise ValueError(f"index_bits must be a positive integer, got {index_bits!r}")
    rows = weight.shape[0] if weight.dim() > 1 else 1
    nonzero = int(torch.count_nonzero(weight))
    value_bits = 8 * weight.element_size()
    bits = nonzero * (value_bits + index_bits) + (rows + 1) * index_bits
    return (bits + 7) // 8
'''

_CHAN = '''
def channel_prune(model, keep_ratio):
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)) or not 0 < keep_ratio <= 1:
        raise ValueError(f"keep_ratio must be a number in (0, 1], got {keep_ratio!r}")

    def kept_channels(conv):
        norms = conv.weight.detach().flatten(1).norm(p=2, dim=1)
        k = max(1, round(keep_ratio * conv.out_channels))
        return torch.topk(norms, k).indices.sort().values

    k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)
    classes = model.fc.out_features
    small = models.DigitsCNN((len(k1), len(k2)), num_classes=classes)
    fc_cols = model.fc.weight.detach().view(classes, model.conv2.out_channels, -1)
    with torch.no_grad():
        small.conv1.weight.copy_(model.conv1.weight[k1])
        small.conv1.bias.copy_(model.conv1.bias[k1])
        small.conv2.weight.copy_(model.conv2.weight[k2][:, k1])
        small.conv2.bias.copy_(model.conv2.bias[k2])
        small.fc.weight.copy_(fc_cols[:, k2].reshape(classes, -1))
        small.fc.bias.copy_(model.fc.bias)
    return small.eval()
'''


def _mutate(base: str, *pairs: str) -> str:
    """``base`` with each (old, new) pair replaced; every ``old`` must occur in ``base``."""
    out = base
    for old, new in zip(pairs[::2], pairs[1::2]):
        if old not in out:
            raise ValueError(f"mutant pattern not found in the reference source: {old!r}")
        out = out.replace(old, new)
    return out


def _m(name, cell, tests, base, *pairs):
    return dict(name=name, cell=cell, tests=tests, source=_mutate(base, *pairs))


MUTANTS = [
    # --- magnitude_prune_mask ------------------------------------------------------------------
    _m("prunes the largest weights", "magnitude-prune-mask", _MAG_T, _MAG,
       "largest=False", "largest=True"),
    _m("floor instead of round on the count", "magnitude-prune-mask", _MAG_T, _MAG,
       "round(sparsity * weight.numel())", "int(sparsity * weight.numel())"),
    _m("ceil instead of round on the count", "magnitude-prune-mask", _MAG_T, _MAG,
       "round(sparsity * weight.numel())", "math.ceil(sparsity * weight.numel())"),
    _m("ranks by signed value, not magnitude", "magnitude-prune-mask", _MAG_T, _MAG,
       "weight.detach().abs().flatten()", "weight.detach().flatten()"),
    _m("modifies the input (abs in place)", "magnitude-prune-mask", _MAG_T, _MAG,
       "weight.detach().abs().flatten()", "weight.detach().abs_().flatten()"),
    _m("accepts sparsity 1", "magnitude-prune-mask", _MAG_T, _MAG,
       "not 0 <= sparsity < 1", "not 0 <= sparsity <= 1"),
    _m("returns a float mask", "magnitude-prune-mask", _MAG_T, _MAG,
       "return keep.view(weight.shape)", "return keep.view(weight.shape).float()"),
    _m("off by one: prunes one entry too many", "magnitude-prune-mask", _MAG_T, _MAG,
       "round(sparsity * weight.numel())", "round(sparsity * weight.numel()) + (sparsity > 0)"),
    # --- apply_masks ---------------------------------------------------------------------------
    _m("masks not re-applied after optimizer steps (zeroes once)", "apply-masks", _MASK_T, _APPLY,
       "        param.register_hook(lambda grad, keep=keep: grad * keep)\n", ""),
    _m("masks the gradient but does not zero the weights now", "apply-masks", _MASK_T, _APPLY,
       "            param.mul_(keep)", "            pass"),
    _m("inverted mask (zeroes the kept weights)", "apply-masks", _MASK_T, _APPLY,
       "keep = mask.to(device=param.device, dtype=param.dtype)",
       "keep = (~mask.bool()).to(device=param.device, dtype=param.dtype)"),
    _m("freezes the whole parameter", "apply-masks", _MASK_T, _APPLY,
       "        param.register_hook(lambda grad, keep=keep: grad * keep)",
       "        param.requires_grad_(False)"),
    _m("applies only the first mask", "apply-masks", _MASK_T, _APPLY,
       "for name, mask in masks.items():", "for name, mask in list(masks.items())[:1]:"),
    _m("silently ignores unknown parameter names", "apply-masks", _MASK_T, _APPLY,
       'raise ValueError(f"the model has no parameter named {name!r}")', "continue"),
    _m("hook captures the last mask only (late binding)", "apply-masks", _MASK_T, _APPLY,
       "lambda grad, keep=keep: grad * keep", "lambda grad: grad * keep"),
    # --- sensitivity_scan ----------------------------------------------------------------------
    _m("prunes cumulatively (no restore between sparsities)", "sensitivity-scan", _SENS_T, _SENS,
       "weight.copy_(original * magnitude_prune_mask(original, s))",
       "weight.mul_(magnitude_prune_mask(weight, s))"),
    _m("never restores the model", "sensitivity-scan", _SENS_T, _SENS,
       "        with torch.no_grad():\n            weight.copy_(original)\n", ""),
    _m("uses the sparsity as a density", "sensitivity-scan", _SENS_T, _SENS,
       "magnitude_prune_mask(original, s)", "magnitude_prune_mask(original, 1 - s if s > 0 else 0.0)"),
    _m("prunes the bias too", "sensitivity-scan", _SENS_T, _SENS,
       "            scores.append(float(evaluate(model)))",
       "                model.get_submodule(name).bias.mul_(magnitude_prune_mask(model.get_submodule(name).bias, s))\n"
       "            scores.append(float(evaluate(model)))"),
    _m("prunes the largest weights", "sensitivity-scan", _SENS_T, _SENS,
       "weight.copy_(original * magnitude_prune_mask(original, s))",
       "weight.copy_(original * ~magnitude_prune_mask(-original.abs(), s) if s > 0 else original)"),
    _m("scores in reverse order", "sensitivity-scan", _SENS_T, _SENS,
       "        results[name] = scores", "        results[name] = scores[::-1]"),
    # --- granular_prune_mask -------------------------------------------------------------------
    _m("ranks groups by signed sum instead of norm", "granular-prune-mask", _GRAN_T, _GRAN,
       ".norm(p=2, dim=-1)", ".sum(dim=-1)"),
    _m("ranks groups by L1 norm", "granular-prune-mask", _GRAN_T, _GRAN,
       ".norm(p=2, dim=-1)", ".norm(p=1, dim=-1)"),
    _m("wrong dimension for 'filter' (input channels)", "granular-prune-mask", _GRAN_T, _GRAN,
       "    group_dims = GRANULARITIES.index(granularity)\n",
       "    group_dims = GRANULARITIES.index(granularity)\n"
       "    if granularity == 'filter':\n"
       "        norms = weight.detach().transpose(0, 1).reshape(weight.shape[1], -1).norm(p=2, dim=-1)\n"
       "        k = round(sparsity * norms.numel())\n"
       "        keep = torch.ones(norms.numel(), dtype=torch.bool)\n"
       "        if k > 0:\n"
       "            keep[torch.topk(norms, k, largest=False).indices] = False\n"
       "        return keep.view(1, -1, 1, 1).expand(weight.shape).clone()\n"),
    _m("'vector' along kernel columns instead of rows", "granular-prune-mask", _GRAN_T, _GRAN,
       "    group_dims = GRANULARITIES.index(granularity)\n",
       "    group_dims = GRANULARITIES.index(granularity)\n"
       "    if granularity == 'vector':\n"
       "        wt = weight.transpose(2, 3)\n"
       "        norms = wt.detach().reshape(*wt.shape[:3], -1).norm(p=2, dim=-1).flatten()\n"
       "        k = round(sparsity * norms.numel())\n"
       "        keep = torch.ones(norms.numel(), dtype=torch.bool)\n"
       "        if k > 0:\n"
       "            keep[torch.topk(norms, k, largest=False).indices] = False\n"
       "        return keep.view(*wt.shape[:3], 1).expand(wt.shape).transpose(2, 3).clone()\n"),
    _m("floor instead of round on the group count", "granular-prune-mask", _GRAN_T, _GRAN,
       "round(sparsity * norms.numel())", "int(sparsity * norms.numel())"),
    _m("prunes the largest groups", "granular-prune-mask", _GRAN_T, _GRAN,
       "n_prune, largest=False", "n_prune, largest=True"),
    _m("unknown granularity falls back to fine-grained", "granular-prune-mask", _GRAN_T, _GRAN,
       "raise ValueError(f\"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}\")",
       "granularity = 'fine'"),
    _m("modifies the input (abs in place)", "granular-prune-mask", _GRAN_T, _GRAN,
       "weight.detach().reshape(*lead, -1)", "weight.detach().abs_().reshape(*lead, -1)"),
    _m("error message does not name the valid granularities", "granular-prune-mask", _GRAN_T, _GRAN,
       "{granularity!r}; valid: {', '.join(GRANULARITIES)}", "{granularity!r}"),
    # --- sparse_storage_bytes ------------------------------------------------------------------
    _m("rounds bits down instead of up", "sparse-storage-bytes", _STORE_T, _STORE,
       "return (bits + 7) // 8", "return bits // 8"),
    _m("forgets the row pointers", "sparse-storage-bytes", _STORE_T, _STORE,
       " + (rows + 1) * index_bits", ""),
    _m("off by one: rows instead of rows + 1 pointers", "sparse-storage-bytes", _STORE_T, _STORE,
       "(rows + 1) * index_bits", "rows * index_bits"),
    _m("value bits fixed at 32", "sparse-storage-bytes", _STORE_T, _STORE,
       "value_bits = 8 * weight.element_size()", "value_bits = 32"),
    _m("ignores index_bits (32-bit indices always)", "sparse-storage-bytes", _STORE_T, _STORE,
       "    rows = weight.shape[0]", "    index_bits = 32\n    rows = weight.shape[0]"),
    _m("counts every entry, not the non-zeros", "sparse-storage-bytes", _STORE_T, _STORE,
       "int(torch.count_nonzero(weight))", "weight.numel()"),
    _m("wrong axis: one pointer per column", "sparse-storage-bytes", _STORE_T, _STORE,
       "rows = weight.shape[0] if weight.dim() > 1 else 1", "rows = weight.shape[-1] if weight.dim() > 1 else 1"),
    _m("calls mclib.measure.sparse_bytes instead of computing", "sparse-storage-bytes", _STORE_T, _STORE,
       "    return (bits + 7) // 8",
       "    return mclib.measure.sparse_bytes(nonzero, value_bits, index_bits, rows)"),
    # --- channel_prune -------------------------------------------------------------------------
    _m("forgets the next layer's input channels", "channel-prune", _CHAN_T, _CHAN,
       "    small = models.DigitsCNN((len(k1), len(k2)), num_classes=classes)\n",
       "    small = models.DigitsCNN((len(k1), len(k2)), num_classes=classes)\n"
       "    small.conv2 = nn.Conv2d(model.conv2.in_channels, len(k2), 3, padding=1)\n",
       "small.conv2.weight.copy_(model.conv2.weight[k2][:, k1])", "small.conv2.weight.copy_(model.conv2.weight[k2])"),
    _m("fc columns taken in the wrong order", "channel-prune", _CHAN_T, _CHAN,
       "fc_cols = model.fc.weight.detach().view(classes, model.conv2.out_channels, -1)",
       "fc_cols = model.fc.weight.detach().view(classes, -1, model.conv2.out_channels).transpose(1, 2)"),
    _m("keeps the lowest-norm channels", "channel-prune", _CHAN_T, _CHAN,
       "torch.topk(norms, k).indices", "torch.topk(norms, k, largest=False).indices"),
    _m("floor instead of round on the channel count", "channel-prune", _CHAN_T, _CHAN,
       "max(1, round(keep_ratio * conv.out_channels))", "max(1, int(keep_ratio * conv.out_channels))"),
    _m("ranks filters by signed sum", "channel-prune", _CHAN_T, _CHAN,
       ".norm(p=2, dim=1)", ".sum(dim=1)"),
    _m("modifies the input model (zeroes the dropped filters)", "channel-prune", _CHAN_T, _CHAN,
       "    k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)\n",
       "    k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)\n"
       "    with torch.no_grad():\n"
       "        for conv, kept in ((model.conv1, k1), (model.conv2, k2)):\n"
       "            drop = torch.ones(conv.out_channels, dtype=torch.bool)\n"
       "            drop[kept] = False\n"
       "            conv.weight[drop] = 0\n"),
    _m("does not copy the conv biases", "channel-prune", _CHAN_T, _CHAN,
       "        small.conv1.bias.copy_(model.conv1.bias[k1])\n", "",
       "        small.conv2.bias.copy_(model.conv2.bias[k2])\n", ""),
    _m("prunes conv1 only, conv2 keeps every channel", "channel-prune", _CHAN_T, _CHAN,
       "k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)",
       "k1, k2 = kept_channels(model.conv1), torch.arange(model.conv2.out_channels)"),
    _m("forgets max(1, ...) and can keep zero channels", "channel-prune", _CHAN_T, _CHAN,
       "max(1, round(keep_ratio * conv.out_channels))", "round(keep_ratio * conv.out_channels)"),
]
