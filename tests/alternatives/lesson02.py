"""Correct answers to lesson 02's exercises written differently from the solution; each must keep
full marks and leave every later cell of the lesson running (tests/test_alternatives.py)."""
LESSON = "02-pruning"

ALTERNATIVES = [
    # ------------------------------------------------------------------ magnitude_prune_mask
    dict(name="argsort of the magnitudes, a bool mask filled by index", cell="magnitude-prune-mask", source='''
def magnitude_prune_mask(weight, sparsity):
    if type(sparsity) not in (int, float) or not (0 <= sparsity < 1):
        raise ValueError("sparsity must be in [0, 1)")
    flat = weight.detach().reshape(-1).abs()
    n = round(sparsity * flat.numel())
    mask = torch.ones_like(flat, dtype=torch.bool)
    mask[torch.argsort(flat)[:n]] = False
    return mask.reshape(weight.shape)
'''),
    dict(name="threshold with kthvalue, mask by comparison", cell="magnitude-prune-mask", source='''
def magnitude_prune_mask(weight, sparsity):
    if not isinstance(sparsity, (int, float)) or isinstance(sparsity, bool) or sparsity < 0 or sparsity >= 1:
        raise ValueError(f"sparsity {sparsity} outside [0, 1)")
    magnitude = weight.detach().abs()
    n = round(sparsity * magnitude.numel())
    if n == 0:
        return torch.ones(weight.shape, dtype=torch.bool)
    threshold = magnitude.flatten().kthvalue(n).values
    return magnitude > threshold
'''),

    # ------------------------------------------------------------------ apply_masks
    dict(name="torch.nn.utils.prune.custom_from_mask (PyTorch's own tool)", cell="apply-masks", source='''
import torch.nn.utils.prune as prune


def apply_masks(model, masks):
    names = {name for name, _ in model.named_parameters()}
    for name in masks:
        if name not in names:
            raise ValueError(f"unknown parameter {name}")
    for name, mask in masks.items():
        module_name, _, param_name = name.rpartition(".")
        prune.custom_from_mask(model.get_submodule(module_name), param_name, mask)
    return model
'''),
    dict(name="torch.where in the gradient hook, zeroing by boolean indexing", cell="apply-masks", source='''
def apply_masks(model, masks):
    params = dict(model.named_parameters())
    missing = [n for n in masks if n not in params]
    if missing:
        raise ValueError(f"no such parameters: {missing}")
    for name, mask in masks.items():
        p = params[name]
        keep = mask.bool()
        with torch.no_grad():
            p[~keep] = 0.0
        p.register_hook(lambda g, keep=keep: torch.where(keep, g, torch.zeros_like(g)))
    return model
'''),
    dict(name="float masks, .data multiplied, a hook made by a helper function", cell="apply-masks", source='''
def _masking_hook(mask):
    def hook(grad):
        return grad * mask
    return hook


def apply_masks(model, masks):
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in params:
            raise ValueError(name + " is not a parameter of the model")
        fmask = mask.float()
        params[name].data *= fmask
        params[name].register_hook(_masking_hook(fmask))
    return model
'''),

    # ------------------------------------------------------------------ sensitivity_scan
    dict(name="state_dict saved once, reloaded after every measurement", cell="sensitivity-scan", source='''
def sensitivity_scan(model, layer_names, sparsities, evaluate):
    saved = copy.deepcopy(model.state_dict())
    out = {}
    for layer in layer_names:
        out[layer] = []
        for s in sparsities:
            w = model.get_submodule(layer).weight
            with torch.no_grad():
                w[~magnitude_prune_mask(w, s)] = 0
            out[layer].append(float(evaluate(model)))
            model.load_state_dict(saved)
    return out
'''),
    dict(name="a deep copy per measurement, the model never touched", cell="sensitivity-scan", source='''
def sensitivity_scan(model, layer_names, sparsities, evaluate):
    results = {name: [] for name in layer_names}
    for name in layer_names:
        for s in sparsities:
            trial = copy.deepcopy(model)
            w = trial.get_submodule(name).weight
            w.data = w.data * magnitude_prune_mask(w.data, s)
            results[name].append(float(evaluate(trial)))
    return results
'''),

    # ------------------------------------------------------------------ granular_prune_mask
    dict(name="one branch per granularity, argsort of the group norms", cell="granular-prune-mask", source='''
GRANULARITIES = ("fine", "vector", "kernel", "filter")


def granular_prune_mask(weight, sparsity, granularity):
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of fine, vector, kernel, filter; got {granularity}")
    if type(sparsity) not in (int, float) or not 0 <= sparsity < 1:
        raise ValueError("sparsity must be in [0, 1)")
    o, i, kh, kw = weight.shape
    w = weight.detach()
    if granularity == "fine":
        groups = w.reshape(-1, 1)
    elif granularity == "vector":
        groups = w.reshape(o * i * kh, kw)
    elif granularity == "kernel":
        groups = w.reshape(o * i, kh * kw)
    else:
        groups = w.reshape(o, i * kh * kw)
    norms = torch.sqrt((groups ** 2).sum(dim=1))
    n = round(sparsity * len(norms))
    keep = torch.ones(len(norms), dtype=torch.bool)
    keep[torch.argsort(norms)[:n]] = False
    return keep[:, None].expand_as(groups).reshape(weight.shape)
'''),
    dict(name="torch.nn.utils.prune.LnStructured on a (groups, size) view", cell="granular-prune-mask", source='''
from torch.nn.utils import prune as _tprune

GRANULARITIES = ("fine", "vector", "kernel", "filter")
_GROUP_ROWS = {"fine": lambda s: s[0] * s[1] * s[2] * s[3], "vector": lambda s: s[0] * s[1] * s[2],
               "kernel": lambda s: s[0] * s[1], "filter": lambda s: s[0]}


def granular_prune_mask(weight, sparsity, granularity):
    if granularity not in _GROUP_ROWS:
        raise ValueError(f"unknown granularity {granularity!r}; choose from {GRANULARITIES}")
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise ValueError("sparsity must be a number in [0, 1)")
    rows = weight.detach().reshape(_GROUP_ROWS[granularity](weight.shape), -1)
    mask = _tprune.LnStructured(amount=float(sparsity), n=2, dim=0).compute_mask(rows, torch.ones_like(rows))
    return mask.bool().reshape(weight.shape)
'''),

    # ------------------------------------------------------------------ prune_neurons
    dict(name="a deep copy with new Linear layers swapped in (sizes left as they were)", cell="prune-neurons", source='''
def prune_neurons(model, keep_ratio):
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)) or not 0 < keep_ratio <= 1:
        raise ValueError("keep_ratio must be in (0, 1]")
    new = copy.deepcopy(model)
    names = [n for n, m in model.named_children() if isinstance(m, nn.Linear)]
    previous = None                         # kept neurons of the previous layer
    for pos, name in enumerate(names):
        old = model.get_submodule(name)
        w, b = old.weight.detach(), old.bias.detach()
        if previous is not None:
            w = w[:, previous]
        if pos < len(names) - 1:
            k = max(1, round(keep_ratio * old.out_features))
            rows = torch.argsort(old.weight.detach().norm(dim=1), descending=True)[:k].sort().values
            w, b = w[rows], b[rows]
            previous = rows
        layer = nn.Linear(w.shape[1], w.shape[0])
        layer.weight.data, layer.bias.data = w.clone(), b.clone()
        setattr(new, name, layer)
    return new.eval()
'''),
    dict(name="boolean keep masks and index_select", cell="prune-neurons", source='''
def prune_neurons(model, keep_ratio):
    if not isinstance(keep_ratio, (int, float)) or isinstance(keep_ratio, bool) or keep_ratio <= 0 or keep_ratio > 1:
        raise ValueError(f"keep_ratio={keep_ratio!r} is not in (0, 1]")
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    keeps = []
    for fc in fcs[:-1]:
        norms = (fc.weight.detach() ** 2).sum(dim=1)      # squared norms rank the same
        k = max(1, round(keep_ratio * fc.out_features))
        keep = torch.zeros(fc.out_features, dtype=torch.bool)
        keep[norms.topk(k).indices] = True
        keeps.append(keep.nonzero().flatten())
    widths = [fcs[0].in_features] + [len(k) for k in keeps] + [fcs[-1].out_features]
    out = models.MLP(widths)
    new_fcs = [m for m in out.modules() if isinstance(m, nn.Linear)]
    ins = [None] + keeps
    outs = keeps + [None]
    with torch.no_grad():
        for new, old, cols, rows in zip(new_fcs, fcs, ins, outs):
            w, b = old.weight.detach(), old.bias.detach()
            if rows is not None:
                w, b = w.index_select(0, rows), b.index_select(0, rows)
            if cols is not None:
                w = w.index_select(1, cols)
            new.weight.copy_(w)
            new.bias.copy_(b)
    out.eval()
    return out
'''),

    # ------------------------------------------------------------------ sparse_storage_bytes
    dict(name="finfo bits and math.ceil", cell="sparse-storage-bytes", source='''
def sparse_storage_bytes(weight, index_bits):
    if type(index_bits) is not int or index_bits <= 0:
        raise ValueError("index_bits must be a positive int")
    rows = 1 if weight.dim() == 1 else weight.shape[0]
    nnz = int((weight != 0).sum())
    value_bits = torch.finfo(weight.dtype).bits
    return math.ceil((nnz * value_bits + nnz * index_bits + (rows + 1) * index_bits) / 8)
'''),
    dict(name="a loop over the rows of the matrix", cell="sparse-storage-bytes", source='''
def sparse_storage_bytes(weight, index_bits):
    if isinstance(index_bits, bool) or not isinstance(index_bits, int) or index_bits < 1:
        raise ValueError(f"index_bits must be a positive integer, not {index_bits!r}")
    matrix = weight.detach().reshape(weight.shape[0] if weight.dim() > 1 else 1, -1)
    bits = (matrix.shape[0] + 1) * index_bits            # row pointers
    for row in matrix:
        nonzero = int(torch.count_nonzero(row))
        bits += nonzero * (weight.element_size() * 8 + index_bits)
    return -(-bits // 8)
'''),

    # ------------------------------------------------------------------ channel_prune
    dict(name="argsort, index_select and load_state_dict", cell="channel-prune", source='''
def channel_prune(model, keep_ratio):
    if type(keep_ratio) not in (int, float) or not 0 < keep_ratio <= 1:
        raise ValueError("keep_ratio must be in (0, 1]")

    def keep(conv):
        n = max(1, round(keep_ratio * conv.out_channels))
        norms = conv.weight.detach().pow(2).sum(dim=(1, 2, 3))
        return torch.argsort(norms, descending=True)[:n].sort().values

    k1, k2 = keep(model.conv1), keep(model.conv2)
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    fc_w = sd["fc.weight"].reshape(sd["fc.weight"].shape[0], model.conv2.out_channels, 16)
    new_sd = {
        "conv1.weight": sd["conv1.weight"].index_select(0, k1),
        "conv1.bias": sd["conv1.bias"].index_select(0, k1),
        "conv2.weight": sd["conv2.weight"].index_select(0, k2).index_select(1, k1),
        "conv2.bias": sd["conv2.bias"].index_select(0, k2),
        "fc.weight": fc_w.index_select(1, k2).reshape(fc_w.shape[0], -1),
        "fc.bias": sd["fc.bias"].clone(),
    }
    small = models.DigitsCNN((len(k1), len(k2)), num_classes=model.fc.out_features)
    small.load_state_dict(new_sd)
    return small
'''),
]
