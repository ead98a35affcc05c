"""CUDA reported as available but unusable, for machines without a GPU.

``torch.cuda.is_available()`` says True and ``device_count()`` 1, so code that picks "cuda when
there is one" picks it; any tensor or module moved to, or created on, a CUDA device raises at once.
A hidden move to the GPU then fails loudly in CI instead of only on a learner's gaming laptop.

``SOURCE`` is an IPython startup file for a notebook kernel; ``install(monkeypatch)`` does the same
inside the test process, undone after the test.
"""

MESSAGE = "CUDA is reported as available in this test but is not usable: something moved to the GPU"

SOURCE = f'''
import torch
import torch.cuda


def _cuda_unusable(*args, **kwargs):
    raise RuntimeError({MESSAGE!r})


torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
# torch calls torch.cuda._lazy_init before the first CUDA tensor exists (moves, allocations,
# .cuda(), torch.cuda.synchronize ...): make that the loud failure.
torch.cuda._lazy_init = _cuda_unusable
torch.cuda.synchronize = _cuda_unusable
'''


def install(monkeypatch) -> None:
    import torch

    def unusable(*args, **kwargs):
        raise RuntimeError(MESSAGE)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "_lazy_init", unusable)
    monkeypatch.setattr(torch.cuda, "synchronize", unusable)
