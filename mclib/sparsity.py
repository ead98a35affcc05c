"""Pictures and data corruptions for the pruning lesson (lesson 02).

- ``tile_kernels(t)`` lays a conv weight or mask of shape (out, in, kh, kw) out as one 2-D image:
  one row of tiles per output channel (filter), one column per input channel, each tile the
  kh x kw kernel, with a one-pixel NaN gap between tiles (drawn blank by ``imshow``).
- ``draw_masks(fig, masks)`` shows several such masks side by side (kept = dark blue, pruned =
  light red, gaps white),
  e.g. one per pruning granularity, for ``mclib.widgets.explorer``.
- ``gaussian_noise(x, sigma, seed)`` returns a noise-corrupted copy of a batch of images, for
  robustness experiments.

Nothing here decides which weights to prune: that is the lesson's exercise.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

__all__ = ["tile_kernels", "draw_masks", "gaussian_noise"]


def tile_kernels(t) -> np.ndarray:
    """A 4-D tensor (out, in, kh, kw) as a float 2-D array of shape
    (out * (kh + 1) - 1, in * (kw + 1) - 1): tile (o, i) holds ``t[o, i]`` at rows
    o * (kh + 1) ... and columns i * (kw + 1) ...; the gaps between tiles are NaN.
    Boolean masks become 1.0 (kept) and 0.0 (pruned)."""
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(t)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tile_kernels needs a torch.Tensor or numpy array, got {type(t).__name__}")
    if t.dim() != 4:
        raise ValueError(f"tile_kernels needs a 4-D conv weight or mask (out, in, kh, kw), "
                         f"got shape {tuple(t.shape)}")
    out_c, in_c, kh, kw = t.shape
    if 0 in t.shape:
        raise ValueError(f"tile_kernels got an empty tensor of shape {tuple(t.shape)}")
    values = t.detach().to(torch.float64).cpu().numpy()
    image = np.full((out_c * (kh + 1) - 1, in_c * (kw + 1) - 1), np.nan)
    for o in range(out_c):
        for i in range(in_c):
            image[o * (kh + 1):o * (kh + 1) + kh, i * (kw + 1):i * (kw + 1) + kw] = values[o, i]
    return image


def draw_masks(fig, masks: Mapping[str, torch.Tensor], suptitle: str = ""):
    """One subplot per entry of ``masks`` (title -> 4-D boolean mask), each drawn by
    ``tile_kernels`` with its share of kept weights in the title. Returns the list of Axes."""
    if not masks:
        raise ValueError("draw_masks needs at least one mask (title -> 4-D boolean tensor)")
    from matplotlib.colors import ListedColormap

    # pruned: light red, kept: dark blue, the gaps between kernels (NaN): white
    cmap = ListedColormap(["#f4c7c3", "#1f3b73"]).with_extremes(bad="white")
    axes = fig.subplots(1, len(masks), squeeze=False)[0]
    for ax, (title, mask) in zip(axes, masks.items()):
        image = tile_kernels(mask)
        ax.imshow(image, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        kept = float(torch.as_tensor(mask).float().mean())
        ax.set_title(f"{title}\n{100 * kept:.0f}% kept", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("input channel →", fontsize=8)
    axes[0].set_ylabel("filter (output channel) →", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return list(axes)


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``x`` plus independent normal noise of standard deviation ``sigma`` (same units as the
    pixels, which are in [0, 1] for the digits), clipped back to [0, 1]; ``x`` is not changed.
    The same ``seed`` gives the same noise."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
        raise ValueError(f"sigma must be a non-negative number, got {sigma!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp(0.0, 1.0)
