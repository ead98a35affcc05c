"""Wrong implementations of lesson 03's graded functions; each must fail its tests."""
LESSON = "03-kmeans-quantization"

_INIT = ["test-init-centroids"]
_KMEANS = ["test-kmeans-quantize"]
_DEQ = ["test-dequantize"]
_STORE = ["test-kmeans-storage-bits"]
_GRAD = ["test-codebook-gradient", "test-finetune-codebook"]
_TUNE = ["test-finetune-codebook"]

# A correct init_centroids with one marked line replaced by each mutant.
_INIT_TEMPLATE = '''
import torch

def init_centroids(weights, k, method, generator=None):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError("k must be a positive integer")
    w = weights.detach().flatten()
    if method == "forgy":
        values = torch.unique(w)
        if values.numel() < k:
            raise ValueError("not enough distinct values")
        centroids = values[torch.randperm(values.numel(), generator=generator)[:k]]
    elif method == "density":
        centroids = DENSITY
    elif method == "linear":
        centroids = torch.linspace(float(w.min()), float(w.max()), k, dtype=w.dtype)
    else:
        raise ValueError("unknown method")
    return centroids.sort().values
'''


def _init_with_density(expr):
    return _INIT_TEMPLATE.replace("DENSITY", expr)


# A correct argmin-based k-means (different from the solution's sorted-run version) with
# variations below.
_KMEANS_ARGMIN = '''
import torch

def kmeans_quantize(weight, bits, init="linear", max_iter=100, generator=None):
    k = 2 ** bits
    w = weight.detach().flatten()
    codebook = init_centroids(w, k, init, generator).clone()
    assign = None
    for _ in range(max_iter):
        new = (w[:, None] - codebook[None, :]).abs().argmin(dim=1)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros_like(codebook).index_add_(0, assign, w)
        counts = torch.bincount(assign, minlength=k)
        codebook = torch.where(counts > 0, sums / counts.clamp(min=1), codebook)
    return codebook, assign.reshape(weight.shape)
'''

MUTANTS = [
    # ------------------------------------------------------------------ init_centroids
    dict(name="density spaced over values instead of quantiles", cell="init-centroids", tests=_INIT,
         source=_init_with_density("torch.linspace(float(w.min()), float(w.max()), k, dtype=w.dtype)")),
    dict(name="density at interior probabilities (k+2 points, ends dropped)", cell="init-centroids",
         tests=_INIT, source=_init_with_density("torch.quantile(w, torch.linspace(0, 1, k + 2)[1:-1])")),
    dict(name="density with nearest-rank quantiles", cell="init-centroids", tests=_INIT,
         source=_init_with_density(
             "torch.quantile(w, torch.linspace(0, 1, k), interpolation='nearest')")),
    dict(name="unsorted codebook (forgy returned in draw order)", cell="init-centroids", tests=_INIT,
         source=_INIT_TEMPLATE.replace("DENSITY", "torch.quantile(w, torch.linspace(0, 1, k))")
         .replace("    return centroids.sort().values",
                  "    return centroids if method == 'forgy' else centroids.sort().values")),
    dict(name="forgy draws observations, not distinct values", cell="init-centroids", tests=_INIT,
         source='''
import torch

def init_centroids(weights, k, method, generator=None):
    if not isinstance(k, int) or k < 1:
        raise ValueError("k must be a positive integer")
    w = weights.detach().flatten()
    if method == "forgy":
        if w.numel() < k:
            raise ValueError("not enough weights")
        centroids = w[torch.randperm(w.numel(), generator=generator)[:k]]
    elif method == "density":
        centroids = torch.quantile(w, torch.linspace(0, 1, k))
    elif method == "linear":
        centroids = torch.linspace(float(w.min()), float(w.max()), k)
    else:
        raise ValueError("unknown method")
    return centroids.sort().values
'''),
    dict(name="forgy ignores the generator", cell="init-centroids", tests=_INIT,
         source=_init_with_density("torch.quantile(w, torch.linspace(0, 1, k))")
         .replace("torch.randperm(values.numel(), generator=generator)", "torch.randperm(values.numel())")),
    dict(name="linear leaves out the maximum", cell="init-centroids", tests=_INIT,
         source=_init_with_density("torch.quantile(w, torch.linspace(0, 1, k))")
         .replace("torch.linspace(float(w.min()), float(w.max()), k, dtype=w.dtype)",
                  "torch.linspace(float(w.min()), float(w.max()), k + 1, dtype=w.dtype)[:-1]")),
    dict(name="unknown method falls back to linear", cell="init-centroids", tests=_INIT,
         source=_init_with_density("torch.quantile(w, torch.linspace(0, 1, k))")
         .replace('    elif method == "linear":\n', "    else:\n")
         .replace('    else:\n        raise ValueError("unknown method")\n', "")),
    dict(name="no check of k", cell="init-centroids", tests=_INIT,
         source=_init_with_density("torch.quantile(w, torch.linspace(0, 1, k))")
         .replace('    if isinstance(k, bool) or not isinstance(k, int) or k < 1:\n'
                  '        raise ValueError("k must be a positive integer")\n', "")),

    # ------------------------------------------------------------------ kmeans_quantize
    dict(name="2**bits - 1 clusters", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("k = 2 ** bits", "k = 2 ** bits - 1")),
    dict(name="NaN from an empty cluster", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace(
             "torch.where(counts > 0, sums / counts.clamp(min=1), codebook)", "sums / counts")),
    dict(name="empty cluster moved to zero", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace(
             "torch.where(counts > 0, sums / counts.clamp(min=1), codebook)", "sums / counts.clamp(min=1)")),
    dict(name="unsorted codebook (own forgy draw, never sorted)", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace(
             "    codebook = init_centroids(w, k, init, generator).clone()\n",
             "    if init == 'forgy':\n"
             "        values = torch.unique(w)\n"
             "        codebook = values[torch.randperm(values.numel(), generator=generator)[:k]]\n"
             "    else:\n"
             "        codebook = init_centroids(w, k, init, generator).clone()\n")),
    dict(name="sorts the codebook but keeps the old indices", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace(
             "    codebook = init_centroids(w, k, init, generator).clone()\n",
             "    if init == 'forgy':\n"
             "        values = torch.unique(w)\n"
             "        codebook = values[torch.randperm(values.numel(), generator=generator)[:k]]\n"
             "    else:\n"
             "        codebook = init_centroids(w, k, init, generator).clone()\n")
         .replace("    return codebook, assign", "    return codebook.sort().values, assign")),
    dict(name="a single Lloyd iteration", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("for _ in range(max_iter):", "for _ in range(1):")
         + "\n_kq1 = kmeans_quantize\n"
           "def kmeans_quantize(weight, bits, init='linear', max_iter=100, generator=None):\n"
           "    cb, _ = _kq1(weight, bits, init, max_iter, generator)\n"
           "    idx = (weight.detach().flatten()[:, None] - cb[None, :]).abs().argmin(1)\n"
           "    return cb, idx.reshape(weight.shape)\n"),
    dict(name="ignores init (always linear)", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("init_centroids(w, k, init, generator)",
                                       "init_centroids(w, k, 'linear', generator)")),
    dict(name="flat indices", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("assign.reshape(weight.shape)", "assign")),
    dict(name="float indices", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("assign.reshape(weight.shape)", "assign.reshape(weight.shape).float()")),
    dict(name="forgy from the global random state", cell="kmeans-quantize", tests=_KMEANS,
         source=_KMEANS_ARGMIN.replace("init_centroids(w, k, init, generator)",
                                       "init_centroids(w, k, init, None)")),

    # ------------------------------------------------------------------ dequantize
    dict(name="sorts the codebook first", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return codebook.sort().values[indices]
'''),
    dict(name="off by one index", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return codebook[indices - 1]
'''),
    dict(name="flattens the result", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return codebook[indices.flatten()]
'''),
    dict(name="rounds to integers", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return codebook[indices].long()
'''),
    dict(name="returns the indices as floats", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return indices.float()
'''),
    dict(name="always float32", cell="dequantize", tests=_DEQ, source='''
def dequantize(codebook, indices):
    return codebook[indices].float()
'''),

    # ------------------------------------------------------------------ kmeans_storage_bits
    dict(name="storage without the codebook", cell="kmeans-storage-bits", tests=_STORE, source='''
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return num_params * bits
'''),
    dict(name="codebook of 2**bits - 1 entries", cell="kmeans-storage-bits", tests=_STORE, source='''
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return num_params * bits + (2 ** bits - 1) * codebook_bits
'''),
    dict(name="codebook of `bits` entries", cell="kmeans-storage-bits", tests=_STORE, source='''
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return num_params * bits + bits * codebook_bits
'''),
    dict(name="ignores codebook_bits", cell="kmeans-storage-bits", tests=_STORE, source='''
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return num_params * bits + 2 ** bits * 32
'''),
    dict(name="returns bytes", cell="kmeans-storage-bits", tests=_STORE, source='''
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return (num_params * bits + 2 ** bits * codebook_bits) // 8
'''),
    dict(name="returns a float", cell="kmeans-storage-bits", tests=_STORE, source='''
import math
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return num_params * bits + math.pow(2, bits) * codebook_bits
'''),
    dict(name="calls mclib's byte counter", cell="kmeans-storage-bits", tests=_STORE, source='''
from mclib import measure as _m
def kmeans_storage_bits(num_params, bits, codebook_bits=32):
    return 8 * _m.codebook_bytes(num_params, bits, codebook_bits)
'''),

    # ------------------------------------------------------------------ codebook_gradient
    dict(name="averaging instead of summing member gradients", cell="codebook-gradient", tests=_GRAD,
         source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    idx = indices.flatten().long()
    sums = torch.zeros(k, dtype=weight_grad.dtype).index_add_(0, idx, weight_grad.flatten())
    counts = torch.bincount(idx, minlength=k).clamp(min=1)
    return sums / counts
'''),
    dict(name="ignores k (bincount without minlength)", cell="codebook-gradient", tests=_GRAD, source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    return torch.bincount(indices.flatten(), weights=weight_grad.flatten())
'''),
    dict(name="last write wins instead of adding", cell="codebook-gradient", tests=_GRAD, source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    grad = torch.zeros(k, dtype=weight_grad.dtype)
    grad[indices.flatten()] = weight_grad.flatten()
    return grad
'''),
    dict(name="sums absolute gradients", cell="codebook-gradient", tests=_GRAD, source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    grad = torch.zeros(k, dtype=weight_grad.dtype)
    return grad.index_add_(0, indices.flatten(), weight_grad.flatten().abs())
'''),
    dict(name="counts members instead of summing gradients", cell="codebook-gradient", tests=_GRAD,
         source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    return torch.bincount(indices.flatten(), minlength=k).to(weight_grad.dtype)
'''),
    dict(name="float32 accumulator", cell="codebook-gradient", tests=_GRAD, source='''
import torch
def codebook_gradient(weight_grad, indices, k):
    return torch.zeros(k).index_add_(0, indices.flatten(), weight_grad.flatten().float())
'''),

    # ------------------------------------------------------------------ finetune_codebook
    dict(name="steps up the gradient", cell="finetune-codebook", tests=_TUNE, source='''
def finetune_codebook(codebook, weight_grad, indices, lr):
    return codebook + lr * codebook_gradient(weight_grad, indices, len(codebook))
'''),
    dict(name="ignores lr", cell="finetune-codebook", tests=_TUNE, source='''
def finetune_codebook(codebook, weight_grad, indices, lr):
    return codebook - codebook_gradient(weight_grad, indices, len(codebook))
'''),
    dict(name="updates the codebook in place", cell="finetune-codebook", tests=_TUNE, source='''
def finetune_codebook(codebook, weight_grad, indices, lr):
    codebook -= lr * codebook_gradient(weight_grad, indices, len(codebook))
    return codebook
'''),
    dict(name="re-sorts the codebook after the step", cell="finetune-codebook", tests=_TUNE, source='''
def finetune_codebook(codebook, weight_grad, indices, lr):
    return (codebook - lr * codebook_gradient(weight_grad, indices, len(codebook))).sort().values
'''),
    dict(name="step divided by the cluster size", cell="finetune-codebook", tests=_TUNE, source='''
import torch
def finetune_codebook(codebook, weight_grad, indices, lr):
    counts = torch.bincount(indices.flatten(), minlength=len(codebook)).clamp(min=1)
    return codebook - lr * codebook_gradient(weight_grad, indices, len(codebook)) / counts
'''),
]
