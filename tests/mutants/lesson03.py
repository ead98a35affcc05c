"""Wrong implementations of lesson 03's graded functions; each must fail its tests.

Each mutant is the solution cell, read from the solution notebook, with one plausible mistake edited
in (``autograder.mutation.Mutator``): an edit that no longer applies raises at import instead of
silently testing the unchanged solution. The cell ``kmeans-quantize`` holds both ``kmeans_quantize``
and ``dequantize``; ``codebook-gradient`` holds ``codebook_gradient`` and ``finetune_codebook``.
"""
from autograder.mutation import Mutator

LESSON = "03-kmeans-quantization"

M = Mutator(LESSON, tests={
    "init-centroids": ["test-init-centroids"],
    "kmeans-quantize": ["test-kmeans-quantize"],
    "quantized-model-bits": ["test-quantized-model-bits"],
    "codebook-gradient": ["test-codebook-gradient"],
})

_INIT, _KM, _BITS, _GRAD = "init-centroids", "kmeans-quantize", "quantized-model-bits", "codebook-gradient"
_UPDATE = "torch.where(counts > 0, sums / counts.clamp(min=1), codebook)"
_DEQ = "    return codebook[indices.long()]"
_GRAD_RETURN = "    return grad.index_add_(0, indices.flatten().long(), weight_grad.detach().flatten())"
_STEP = "    return codebook - lr * codebook_gradient(weight_grad, indices, len(codebook)).to(codebook.dtype)"
_LAYER_SUM = "total = sum(layers[name].weight.numel() * n + 2 ** n * codebook_bits for name, n in per_layer.items())"

MUTANTS = [
    # ------------------------------------------------------------------ init_centroids
    M("density spaced over values instead of quantiles", _INIT,
      ("centroids = torch.quantile(w, probabilities)",
       "centroids = torch.linspace(float(w.min()), float(w.max()), k, dtype=w.dtype)")),
    M("density at interior probabilities (k+2 points, ends dropped)", _INIT,
      ("probabilities = torch.linspace(0, 1, k, dtype=w.dtype)",
       "probabilities = torch.linspace(0, 1, k + 2, dtype=w.dtype)[1:-1]")),
    M("density with nearest-rank quantiles", _INIT,
      ("torch.quantile(w, probabilities)", "torch.quantile(w, probabilities, interpolation='nearest')")),
    M("unsorted codebook (forgy returned in draw order)", _INIT,
      ("    return centroids.sort().values", "    return centroids if method == 'forgy' else centroids.sort().values")),
    M("forgy draws observations, not distinct values", _INIT, ("values = torch.unique(w)", "values = w")),
    M("forgy ignores the generator", _INIT,
      ("torch.randperm(values.numel(), generator=generator)", "torch.randperm(values.numel())")),
    M("linear leaves out the maximum", _INIT,
      ("torch.linspace(float(w.min()), float(w.max()), k, dtype=w.dtype)",
       "torch.linspace(float(w.min()), float(w.max()), k + 1, dtype=w.dtype)[:-1]")),
    M("unknown method falls back to linear", _INIT,
      ('    elif method == "linear":\n', "    else:\n"),
      ("    else:\n        raise ValueError(f\"method must be 'forgy', 'density' or 'linear', got {method!r}\")\n", "")),
    M("no check of k", _INIT,
      ("    if isinstance(k, bool) or not isinstance(k, int) or k < 1:\n"
       "        raise ValueError(f\"k must be a positive integer, got {k!r}\")\n", "")),

    # ------------------------------------------------------------------ kmeans_quantize
    M("2**bits - 1 clusters", _KM, ("    k = 2 ** bits\n", "    k = 2 ** bits - 1\n")),
    M("NaN from an empty cluster", _KM, (_UPDATE, "sums / counts")),
    M("empty cluster moved to zero", _KM, (_UPDATE, "sums / counts.clamp(min=1)")),
    M("unsorted codebook (own forgy draw, never sorted)", _KM,
      ("    codebook = init_centroids(w, k, init, generator)        # sorted ascending\n",
       "    if init == 'forgy':\n"
       "        values = torch.unique(w)\n"
       "        codebook = values[torch.randperm(values.numel(), generator=generator)[:k]]\n"
       "    else:\n"
       "        codebook = init_centroids(w, k, init, generator)\n")),
    M("a single Lloyd iteration", _KM, ("for _ in range(max_iter):", "for _ in range(1):")),
    M("ignores init (always linear)", _KM,
      ("init_centroids(w, k, init, generator)", "init_centroids(w, k, 'linear', generator)")),
    M("forgy from the global random state", _KM,
      ("init_centroids(w, k, init, generator)", "init_centroids(w, k, init, None)")),
    M("flat indices", _KM, ("indices.reshape(weight.shape)", "indices")),
    M("float indices", _KM, ("indices.reshape(weight.shape)", "indices.reshape(weight.shape).float()")),
    M("codebook returned in float64", _KM, ("return codebook.to(weight.dtype),", "return codebook,")),
    M("no check of bits", _KM,
      ("    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:\n"
       "        raise ValueError(f\"bits must be a positive integer, got {bits!r}\")\n", "")),
    M("final indices from the initial codebook", _KM,
      ("    cuts = None\n", "    start = codebook\n    cuts = None\n"),
      ("indices = torch.bucketize(w, (codebook[1:] + codebook[:-1]) / 2)",
       "indices = torch.bucketize(w, (start[1:] + start[:-1]) / 2)")),

    # ------------------------------------------------------------------ dequantize (same cell)
    M("dequantize sorts the codebook first", _KM, (_DEQ, "    return codebook.sort().values[indices.long()]")),
    M("dequantize off by one index", _KM, (_DEQ, "    return codebook[indices.long() - 1]")),
    M("dequantize flattens the result", _KM, (_DEQ, "    return codebook[indices.long().flatten()]")),
    M("dequantize rounds to integers", _KM, (_DEQ, "    return codebook[indices.long()].long()")),
    M("dequantize returns the indices as floats", _KM, (_DEQ, "    return indices.float()")),
    M("dequantize always float32", _KM, (_DEQ, "    return codebook[indices.long()].float()")),
    M("dequantize indexes with uint8 indices as they are (a boolean mask)", _KM, (_DEQ, "    return codebook[indices]")),

    # ------------------------------------------------------------------ quantized_model_bits
    M("storage without the codebooks", _BITS, (" + 2 ** n * codebook_bits for", " for")),
    M("codebook of 2**bits - 1 entries", _BITS, ("2 ** n * codebook_bits", "(2 ** n - 1) * codebook_bits")),
    M("codebook of `bits` entries", _BITS, ("2 ** n * codebook_bits", "n * codebook_bits")),
    M("ignores codebook_bits", _BITS, ("2 ** n * codebook_bits", "2 ** n * 32")),
    M("returns bytes", _BITS, ("    return int(total)", "    return int(total) // 8")),
    M("returns a float", _BITS, ("    return int(total)", "    return float(total)")),
    M("calls mclib's byte counter", _BITS,
      (_LAYER_SUM, "total = sum(8 * measure.codebook_bytes(layers[name].weight.numel(), n, codebook_bits) "
                   "for name, n in per_layer.items())")),
    M("forgets the biases and other parameters", _BITS,
      ("    total += 32 * sum(p.numel() for p in model.parameters() if id(p) not in quantized)\n", "")),
    M("counts only the Linear/Conv2d biases (batch norm forgotten)", _BITS,
      ("sum(p.numel() for p in model.parameters() if id(p) not in quantized)",
       "sum(m.bias.numel() for m in layers.values() if m.bias is not None)")),
    M("quantizes only Linear layers (conv weights stay float)", _BITS,
      ("isinstance(m, (nn.Linear, nn.Conv2d))", "isinstance(m, nn.Linear)")),
    M("a dict that leaves out a layer is accepted", _BITS, ("if missing or unknown:", "if unknown:"),
      ("        per_layer = dict(bits)\n", "        per_layer = {name: bits[name] for name in layers if name in bits}\n")),
    M("accepts 0 bits", _BITS, ("or n < 1:", "or n < 0:")),

    # ------------------------------------------------------------------ codebook_gradient
    M("averaging instead of summing member gradients", _GRAD,
      (_GRAD_RETURN, "    idx = indices.flatten().long()\n"
                     "    return grad.index_add_(0, idx, weight_grad.detach().flatten()) "
                     "/ torch.bincount(idx, minlength=k).clamp(min=1)")),
    M("ignores k (bincount without minlength)", _GRAD,
      (_GRAD_RETURN, "    return torch.bincount(indices.flatten().long(), weights=weight_grad.detach().flatten())")),
    M("last write wins instead of adding", _GRAD,
      (_GRAD_RETURN, "    grad[indices.flatten().long()] = weight_grad.detach().flatten()\n    return grad")),
    M("sums absolute gradients", _GRAD, ("weight_grad.detach().flatten())", "weight_grad.detach().flatten().abs())")),
    M("counts members instead of summing gradients", _GRAD,
      (_GRAD_RETURN, "    return torch.bincount(indices.flatten().long(), minlength=k).to(weight_grad.dtype)")),
    M("float32 accumulator", _GRAD,
      ("torch.zeros(k, dtype=weight_grad.dtype)", "torch.zeros(k)"),
      ("weight_grad.detach().flatten())", "weight_grad.detach().flatten().float())")),
    M("uint8 indices used as they are", _GRAD, ("indices.flatten().long()", "indices.flatten()")),

    # ------------------------------------------------------------------ finetune_codebook (same cell)
    M("steps up the gradient", _GRAD, ("return codebook - lr *", "return codebook + lr *")),
    M("ignores lr", _GRAD, ("codebook - lr * codebook_gradient", "codebook - codebook_gradient")),
    M("updates the codebook in place", _GRAD,
      (_STEP, "    codebook -= lr * codebook_gradient(weight_grad, indices, len(codebook)).to(codebook.dtype)\n"
              "    return codebook")),
    M("re-sorts the codebook after the step", _GRAD, (_STEP, _STEP + ".sort().values")),
    M("step divided by the cluster size", _GRAD,
      (_STEP, _STEP + " / torch.bincount(indices.flatten().long(), minlength=len(codebook)).clamp(min=1)")),
]
