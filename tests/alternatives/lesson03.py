"""Correct answers to lesson 03's exercises written differently from the solution; each must keep
full marks and leave every later cell of the lesson running (tests/test_alternatives.py).

Not here: a k-means built on scikit-learn's ``KMeans``. The exercise requires an empty cluster to
keep its centroid, and scikit-learn moves it to a far point instead, so such an answer is not correct
for this exercise (the text says so). Nor a k-means with a Python loop over the clusters: the text
asks for an update of all centroids at once, because the experiments quantize about a hundred layers
with up to 256 clusters."""
LESSON = "03-kmeans-quantization"

ALTERNATIVES = [
    # ------------------------------------------------------------------ init_centroids
    dict(name="NumPy quantile / linspace, forgy with torch.multinomial", cell="init-centroids", source='''
def init_centroids(weights, k, method, generator=None):
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError("k must be an integer >= 1")
    if method not in ("forgy", "density", "linear"):
        raise ValueError(f"unknown method {method!r}: use forgy, density or linear")
    w = weights.detach().reshape(-1)
    if method == "forgy":
        distinct = torch.unique(w)
        if len(distinct) < k:
            raise ValueError(f"only {len(distinct)} distinct values for {k} centroids")
        pick = torch.multinomial(torch.ones(len(distinct)), k, replacement=False, generator=generator)
        out = distinct[pick]
    else:
        values = w.double().numpy()
        if method == "density":
            out = np.quantile(values, np.linspace(0.0, 1.0, k))
        else:
            out = np.linspace(values.min(), values.max(), k)
        out = torch.from_numpy(out).to(w.dtype)
    return torch.sort(out).values
'''),
    dict(name="the formulas written out: sorted weights interpolated, min + j/(k-1) range", cell="init-centroids",
         source='''
def init_centroids(weights, k, method, generator=None):
    if type(k) is not int or k <= 0:
        raise ValueError("k must be a positive integer")
    w = weights.detach().flatten()
    if method == "linear":
        j = torch.arange(k, dtype=torch.float64)
        step = (float(w.max()) - float(w.min())) / (k - 1) if k > 1 else 0.0
        c = float(w.min()) + j * step
    elif method == "density":
        s = w.double().sort().values
        p = torch.arange(k, dtype=torch.float64) / (k - 1) if k > 1 else torch.zeros(1, dtype=torch.float64)
        pos = p * (len(s) - 1)
        lo = pos.floor().long()
        hi = torch.clamp(lo + 1, max=len(s) - 1)
        c = s[lo] + (pos - lo) * (s[hi] - s[lo])
    elif method == "forgy":
        values = w.unique()
        if k > values.numel():
            raise ValueError("forgy: more centroids than distinct weight values")
        c = values[torch.randperm(values.numel(), generator=generator)[:k]]
    else:
        raise ValueError("method must be forgy, density or linear")
    return c.sort().values.to(w.dtype)
'''),

    # ------------------------------------------------------------------ kmeans_quantize + dequantize
    dict(name="argmin over a distance matrix, uint8 indices; torch.take to decode", cell="kmeans-quantize", source='''
def kmeans_quantize(weight, bits, init="linear", max_iter=100, generator=None):
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise ValueError("bits must be a positive integer")
    k = 2 ** bits
    w = weight.detach().flatten().double()
    c = init_centroids(w, k, init, generator)
    labels = None
    for _ in range(max_iter):
        new = (w[:, None] - c[None, :]).abs().argmin(dim=1)
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        sums = torch.zeros(k, dtype=w.dtype).index_add_(0, labels, w)
        counts = torch.zeros(k, dtype=w.dtype).index_add_(0, labels, torch.ones_like(w))
        c = torch.where(counts > 0, sums / counts.clamp(min=1), c)
    labels = (w[:, None] - c[None, :]).abs().argmin(dim=1)
    return c.to(weight.dtype), labels.to(torch.uint8 if bits <= 8 else torch.int64).reshape(weight.shape)


def dequantize(codebook, indices):
    return torch.take(codebook, indices.to(torch.int64))
'''),
    dict(name="float32 arithmetic, int32 indices, bincount means; index_select to decode", cell="kmeans-quantize",
         source='''
def kmeans_quantize(weight, bits, init="linear", max_iter=100, generator=None):
    if type(bits) is not int or bits < 1:
        raise ValueError(f"bits must be a positive int, got {bits!r}")
    k = 1 << bits
    w = weight.detach().reshape(-1).clone()
    centroids = init_centroids(w, k, init, generator).clone()
    assignment = torch.full_like(w, -1, dtype=torch.int64)
    for _ in range(max_iter):
        nearest = torch.cdist(w[:, None], centroids[:, None], compute_mode="donot_use_mm_for_euclid_dist").argmin(dim=1)
        if torch.equal(nearest, assignment):
            break
        assignment = nearest
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.bincount(assignment, weights=w, minlength=k)
        moved = counts > 0
        centroids[moved] = (sums[moved] / counts[moved]).to(centroids.dtype)
    assignment = torch.cdist(w[:, None], centroids[:, None], compute_mode="donot_use_mm_for_euclid_dist").argmin(dim=1)
    return centroids, assignment.to(torch.int32).reshape(weight.shape)


def dequantize(codebook, indices):
    return codebook.index_select(0, indices.reshape(-1).long()).reshape(indices.shape)
'''),

    # ------------------------------------------------------------------ quantized_model_bits
    dict(name="all parameters at 32 bits, minus the quantized weights, plus indices and codebooks",
         cell="quantized-model-bits", source='''
def quantized_model_bits(model, bits, codebook_bits=32):
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    names = [name for name, _ in layers]
    if isinstance(bits, dict):
        if sorted(bits) != sorted(names):
            raise ValueError(f"bits must give a width for exactly these layers: {names}")
        widths = [bits[name] for name in names]
    else:
        widths = [bits] * len(layers)
    if any(type(b) is not int or b <= 0 for b in widths):
        raise ValueError("every bit width must be a positive integer")
    total = 32 * sum(p.numel() for p in model.parameters())
    for (_, layer), b in zip(layers, widths):
        n = layer.weight.numel()
        total += n * b + (2 ** b) * codebook_bits - 32 * n
    return total
'''),
    dict(name="parameter by parameter, owners looked up by name", cell="quantized-model-bits", source='''
def quantized_model_bits(model, bits, codebook_bits=32):
    modules = dict(model.named_modules())
    quantized = [n for n, m in modules.items() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if isinstance(bits, dict) and set(bits) != set(quantized):
        raise ValueError(f"expected bits for {quantized}, got {list(bits)}")
    total = 0
    for pname, p in model.named_parameters():
        owner, _, leaf = pname.rpartition(".")
        if owner in quantized and leaf == "weight":
            n_bits = bits[owner] if isinstance(bits, dict) else bits
            if isinstance(n_bits, bool) or not isinstance(n_bits, int) or n_bits < 1:
                raise ValueError(f"invalid bit width {n_bits!r} for {owner}")
            total += p.numel() * n_bits + 2 ** n_bits * codebook_bits
        else:
            total += 32 * p.numel()
    if not isinstance(bits, dict) and (isinstance(bits, bool) or not isinstance(bits, int) or bits < 1):
        raise ValueError(f"invalid bit width {bits!r}")
    return int(total)
'''),

    # ------------------------------------------------------------------ codebook_gradient + finetune_codebook
    dict(name="bincount with weights; the step on a detached clone", cell="codebook-gradient", source='''
def codebook_gradient(weight_grad, indices, k):
    sums = torch.bincount(indices.reshape(-1).to(torch.int64), weights=weight_grad.detach().reshape(-1).double(),
                          minlength=k)
    return sums.to(weight_grad.dtype)


def finetune_codebook(codebook, weight_grad, indices, lr):
    new = codebook.detach().clone()
    new -= lr * codebook_gradient(weight_grad, indices, len(new)).to(new.dtype)
    return new
'''),
    dict(name="a loop over the clusters; the step through torch.optim.SGD", cell="codebook-gradient", source='''
def codebook_gradient(weight_grad, indices, k):
    g, idx = weight_grad.detach().flatten(), indices.flatten().long()
    return torch.stack([g[idx == j].sum() for j in range(k)])


def finetune_codebook(codebook, weight_grad, indices, lr):
    p = torch.nn.Parameter(codebook.detach().clone())
    p.grad = codebook_gradient(weight_grad, indices, len(codebook)).to(p.dtype)
    torch.optim.SGD([p], lr=lr).step()
    return p.detach()
'''),
]
