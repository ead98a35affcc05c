"""Wrong implementations of lesson 02's graded functions; each must fail its tests.

Each mutant is the solution cell, read from the solution notebook, with one plausible mistake edited
in (``autograder.mutation.Mutator``): an edit that no longer applies raises at import instead of
silently testing the unchanged solution.
"""
from autograder.mutation import Mutator

LESSON = "02-pruning"

M = Mutator(LESSON, tests={
    "magnitude-prune-mask": ["test-magnitude-prune-mask"],
    "apply-masks": ["test-apply-masks"],
    "sensitivity-scan": ["test-sensitivity-scan"],
    "granular-prune-mask": ["test-granular-prune-mask"],
    "prune-neurons": ["test-prune-neurons"],
    "sparse-storage-bytes": ["test-sparse-storage-bytes"],
    "channel-prune": ["test-channel-prune"],
})

_MAG, _MASK, _SENS, _GRAN = "magnitude-prune-mask", "apply-masks", "sensitivity-scan", "granular-prune-mask"
_NEUR, _STORE, _CHAN = "prune-neurons", "sparse-storage-bytes", "channel-prune"

MUTANTS = [
    # ------------------------------------------------------------------ magnitude_prune_mask
    M("prunes the largest weights", _MAG, ("largest=False", "largest=True")),
    M("floor instead of round on the count", _MAG,
      ("round(sparsity * weight.numel())", "int(sparsity * weight.numel())")),
    M("ceil instead of round on the count", _MAG,
      ("round(sparsity * weight.numel())", "math.ceil(sparsity * weight.numel())")),
    M("ranks by signed value, not magnitude", _MAG,
      ("weight.detach().abs().flatten()", "weight.detach().flatten()")),
    M("modifies the input (abs in place)", _MAG,
      ("weight.detach().abs().flatten()", "weight.detach().abs_().flatten()")),
    M("accepts sparsity 1", _MAG, ("not 0 <= sparsity < 1", "not 0 <= sparsity <= 1")),
    M("returns a float mask", _MAG, ("return keep.view(weight.shape)", "return keep.view(weight.shape).float()")),
    M("off by one: prunes one entry too many", _MAG,
      ("round(sparsity * weight.numel())", "round(sparsity * weight.numel()) + (sparsity > 0)")),

    # ------------------------------------------------------------------ apply_masks
    M("masks not re-applied after optimizer steps (zeroes once)", _MASK,
      ("        param.register_hook(lambda grad, keep=keep: grad * keep)\n", "")),
    M("masks the gradient but does not zero the weights now", _MASK,
      ("            param.mul_(keep)", "            pass")),
    M("inverted mask (zeroes the kept weights)", _MASK,
      ("keep = mask.to(device=param.device, dtype=param.dtype)",
       "keep = (~mask.bool()).to(device=param.device, dtype=param.dtype)")),
    M("freezes the whole parameter", _MASK,
      ("        param.register_hook(lambda grad, keep=keep: grad * keep)", "        param.requires_grad_(False)")),
    M("applies only the first mask", _MASK,
      ("for name, mask in masks.items():", "for name, mask in list(masks.items())[:1]:")),
    M("silently ignores unknown parameter names", _MASK,
      ('            raise ValueError(f"the model has no parameter named {name!r}; it has: {\', \'.join(params)}")',
       "            continue")),
    M("hook captures the last mask only (late binding)", _MASK,
      ("lambda grad, keep=keep: grad * keep", "lambda grad: grad * keep")),
    M("does not return the model", _MASK, ("    return model\n", "")),

    # ------------------------------------------------------------------ sensitivity_scan
    M("prunes cumulatively (no restore between sparsities)", _SENS,
      ("weight.copy_(original * magnitude_prune_mask(original, s))", "weight.mul_(magnitude_prune_mask(weight, s))")),
    M("never restores the model", _SENS,
      ("        finally:\n            with torch.no_grad():\n                weight.copy_(original)\n",
       "        finally:\n            pass\n")),
    M("uses the sparsity as a density", _SENS,
      ("magnitude_prune_mask(original, s)", "magnitude_prune_mask(original, 1 - s if s > 0 else 0.0)")),
    M("prunes the bias too", _SENS,
      ("                scores.append(float(evaluate(model)))",
       "                with torch.no_grad():\n"
       "                    bias = model.get_submodule(name).bias\n"
       "                    bias.mul_(magnitude_prune_mask(bias, s))\n"
       "                scores.append(float(evaluate(model)))")),
    M("prunes the largest weights", _SENS,
      ("weight.copy_(original * magnitude_prune_mask(original, s))",
       "weight.copy_(original * ~magnitude_prune_mask(-original.abs(), s) if s > 0 else original)")),
    M("scores in reverse order", _SENS, ("        results[name] = scores", "        results[name] = scores[::-1]")),

    # ------------------------------------------------------------------ granular_prune_mask
    M("ranks groups by signed sum instead of norm", _GRAN, (".norm(p=2, dim=-1)", ".sum(dim=-1)")),
    M("ranks groups by L1 norm", _GRAN, (".norm(p=2, dim=-1)", ".norm(p=1, dim=-1)")),
    M("wrong dimension for 'filter' (input channels)", _GRAN,
      ("    group_dims = GRANULARITIES.index(granularity)      # how many trailing dims form one group\n",
       "    group_dims = GRANULARITIES.index(granularity)\n"
       "    if granularity == 'filter':\n"
       "        norms = weight.detach().transpose(0, 1).reshape(weight.shape[1], -1).norm(p=2, dim=-1)\n"
       "        k = round(sparsity * norms.numel())\n"
       "        keep = torch.ones(norms.numel(), dtype=torch.bool)\n"
       "        if k > 0:\n"
       "            keep[torch.topk(norms, k, largest=False).indices] = False\n"
       "        return keep.view(1, -1, 1, 1).expand(weight.shape).clone()\n")),
    M("'vector' along kernel columns instead of rows", _GRAN,
      ("    group_dims = GRANULARITIES.index(granularity)      # how many trailing dims form one group\n",
       "    group_dims = GRANULARITIES.index(granularity)\n"
       "    if granularity == 'vector':\n"
       "        wt = weight.transpose(2, 3)\n"
       "        norms = wt.detach().reshape(*wt.shape[:3], -1).norm(p=2, dim=-1).flatten()\n"
       "        k = round(sparsity * norms.numel())\n"
       "        keep = torch.ones(norms.numel(), dtype=torch.bool)\n"
       "        if k > 0:\n"
       "            keep[torch.topk(norms, k, largest=False).indices] = False\n"
       "        return keep.view(*wt.shape[:3], 1).expand(wt.shape).transpose(2, 3).clone()\n")),
    M("floor instead of round on the group count", _GRAN,
      ("round(sparsity * norms.numel())", "int(sparsity * norms.numel())")),
    M("prunes the largest groups", _GRAN, ("n_prune, largest=False", "n_prune, largest=True")),
    M("unknown granularity falls back to fine-grained", _GRAN,
      ("raise ValueError(f\"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}\")",
       "granularity = 'fine'")),
    M("modifies the input (abs in place)", _GRAN,
      ("weight.detach().reshape(*lead, -1)", "weight.detach().abs_().reshape(*lead, -1)")),
    M("error message does not name the valid granularities", _GRAN,
      ("{granularity!r}; valid: {', '.join(GRANULARITIES)}", "{granularity!r}")),

    # ------------------------------------------------------------------ prune_neurons
    M("keeps the smallest-norm neurons", _NEUR, ("torch.topk(norms, k).indices", "torch.topk(norms, k, largest=False).indices")),
    M("ranks neurons by their outgoing column instead of their incoming row", _NEUR,
      ("    for layer in layers[:-1]:\n        norms = layer.weight.detach().norm(p=2, dim=1)",
       "    for layer, after in zip(layers[:-1], layers[1:]):\n        norms = after.weight.detach().norm(p=2, dim=0)")),
    M("ranks neurons with their bias included", _NEUR,
      ("norms = layer.weight.detach().norm(p=2, dim=1)",
       "norms = torch.cat([layer.weight.detach(), layer.bias.detach()[:, None]], 1).norm(p=2, dim=1)")),
    M("floor instead of round on the neuron count", _NEUR,
      ("max(1, round(keep_ratio * layer.out_features))", "max(1, int(keep_ratio * layer.out_features))")),
    M("forgets max(1, ...) and can keep zero neurons", _NEUR,
      ("max(1, round(keep_ratio * layer.out_features))", "round(keep_ratio * layer.out_features)")),
    M("next layer keeps its first columns instead of the kept neurons'", _NEUR,
      ("new.weight.copy_(old.weight[r][:, c])", "new.weight.copy_(old.weight[r][:, :len(c)])")),
    M("does not copy the biases", _NEUR, ("            new.bias.copy_(old.bias[r])\n", "")),
    M("kept neurons not in their original order", _NEUR,
      ("kept.append(torch.topk(norms, k).indices.sort().values)", "kept.append(torch.topk(norms, k).indices)")),
    M("modifies the input model (zeroes the removed rows)", _NEUR,
      ("        kept.append(torch.topk(norms, k).indices.sort().values)\n",
       "        kept.append(torch.topk(norms, k).indices.sort().values)\n"
       "        with torch.no_grad():\n"
       "            drop = torch.ones(layer.out_features, dtype=torch.bool)\n"
       "            drop[kept[-1]] = False\n"
       "            layer.weight[drop] = 0\n")),
    M("returns the model in training mode", _NEUR, ("    return small.eval()", "    return small")),
    M("accepts keep_ratio 0 and above 1", _NEUR, ("not 0 < keep_ratio <= 1", "not -1 <= keep_ratio <= 2")),

    # ------------------------------------------------------------------ sparse_storage_bytes
    M("rounds bits down instead of up", _STORE, ("return (bits + 7) // 8", "return bits // 8")),
    M("forgets the row pointers", _STORE, (" + (rows + 1) * index_bits", "")),
    M("off by one: rows instead of rows + 1 pointers", _STORE, ("(rows + 1) * index_bits", "rows * index_bits")),
    M("value bits fixed at 32", _STORE, ("value_bits = 8 * weight.element_size()", "value_bits = 32")),
    M("ignores index_bits (32-bit indices always)", _STORE,
      ("    rows = weight.shape[0]", "    index_bits = 32\n    rows = weight.shape[0]")),
    M("counts every entry, not the non-zeros", _STORE, ("int(torch.count_nonzero(weight))", "weight.numel()")),
    M("wrong axis: one pointer per column", _STORE,
      ("rows = weight.shape[0] if weight.dim() > 1 else 1", "rows = weight.shape[-1] if weight.dim() > 1 else 1")),
    M("calls mclib.measure.sparse_bytes instead of computing", _STORE,
      ("    return (bits + 7) // 8", "    return mclib.measure.sparse_bytes(nonzero, value_bits, index_bits, rows)")),

    # ------------------------------------------------------------------ channel_prune
    M("forgets the next layer's input channels", _CHAN,
      ("    small = models.DigitsCNN((len(k1), len(k2)), num_classes=classes)\n",
       "    small = models.DigitsCNN((len(k1), len(k2)), num_classes=classes)\n"
       "    small.conv2 = nn.Conv2d(model.conv2.in_channels, len(k2), 3, padding=1)\n"),
      ("small.conv2.weight.copy_(model.conv2.weight[k2][:, k1])", "small.conv2.weight.copy_(model.conv2.weight[k2])")),
    M("fc columns taken in the wrong order", _CHAN,
      ("fc_cols = model.fc.weight.detach().view(classes, model.conv2.out_channels, -1)",
       "fc_cols = model.fc.weight.detach().view(classes, -1, model.conv2.out_channels).transpose(1, 2)")),
    M("keeps the lowest-norm channels", _CHAN, ("torch.topk(norms, k).indices", "torch.topk(norms, k, largest=False).indices")),
    M("floor instead of round on the channel count", _CHAN,
      ("max(1, round(keep_ratio * conv.out_channels))", "max(1, int(keep_ratio * conv.out_channels))")),
    M("ranks filters by signed sum", _CHAN, (".norm(p=2, dim=1)", ".sum(dim=1)")),
    M("modifies the input model (zeroes the dropped filters)", _CHAN,
      ("    k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)\n",
       "    k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)\n"
       "    with torch.no_grad():\n"
       "        for conv, kept in ((model.conv1, k1), (model.conv2, k2)):\n"
       "            drop = torch.ones(conv.out_channels, dtype=torch.bool)\n"
       "            drop[kept] = False\n"
       "            conv.weight[drop] = 0\n")),
    M("does not copy the conv biases", _CHAN,
      ("        small.conv1.bias.copy_(model.conv1.bias[k1])\n", ""),
      ("        small.conv2.bias.copy_(model.conv2.bias[k2])\n", "")),
    M("prunes conv1 only, conv2 keeps every channel", _CHAN,
      ("k1, k2 = kept_channels(model.conv1), kept_channels(model.conv2)",
       "k1, k2 = kept_channels(model.conv1), torch.arange(model.conv2.out_channels)")),
    M("forgets max(1, ...) and can keep zero channels", _CHAN,
      ("max(1, round(keep_ratio * conv.out_channels))", "round(keep_ratio * conv.out_channels)")),
]
