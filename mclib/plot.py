"""Figures the lessons share. Each function draws on a matplotlib Axes (a new one when ``ax`` is
None) and returns it, so a lesson can combine them and add its own touches."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["new_axes", "curves", "tradeoff", "histogram_with_markers", "singular_spectrum"]


def new_axes(ax=None, figsize=(6, 4)):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def curves(x: Sequence, ys: Mapping[str, Sequence], xlabel: str, ylabel: str, title: str = "",
           logx: bool = False, logy: bool = False, marker: str = "o", ax=None):
    """One line per entry of ``ys`` (label -> values over ``x``), with a legend."""
    if not ys:
        raise ValueError("curves needs at least one series in ys")
    ax = new_axes(ax)
    for label, y in ys.items():
        if len(y) != len(x):
            raise ValueError(f"series {label!r} has {len(y)} values but x has {len(x)}")
        ax.plot(x, y, marker=marker, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def tradeoff(points: Mapping[str, tuple], xlabel: str = "size (KiB)",
             ylabel: str = "test accuracy (%)", title: str = "", logx: bool = True, ax=None):
    """A scatter of named (x, y) points, e.g. size vs accuracy of several compressed models."""
    if not points:
        raise ValueError("tradeoff needs at least one point")
    ax = new_axes(ax)
    for name, (x, y) in points.items():
        ax.scatter([x], [y], s=50)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=9)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    return ax


def histogram_with_markers(values, markers: Mapping[str, Sequence[float]] | None = None,
                           bins: int = 100, title: str = "", xlabel: str = "weight value", ax=None):
    """A histogram of ``values`` with vertical marks at each named set of positions (for
    example the centroids of each initialisation, or a quantization grid)."""
    ax = new_axes(ax)
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("histogram_with_markers needs at least one value")
    ax.hist(values, bins=bins, color="0.7")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, xs) in enumerate((markers or {}).items()):
        for j, x in enumerate(xs):
            ax.axvline(float(x), color=colours[i % len(colours)], lw=1.2, alpha=0.9,
                       label=label if j == 0 else None)
    ax.set(xlabel=xlabel, ylabel="count", title=title)
    if markers:
        ax.legend()
    return ax


def singular_spectrum(singular_values, rank: int | None = None, title: str = "", ax=None):
    """Bar chart of a matrix's singular values (descending, log scale), the first ``rank`` of them
    highlighted, with the kept energy (sum of kept squared singular values over the total, in
    percent) on a second axis. Returns the main Axes; ``ax.kept_energy`` holds the kept fraction
    in [0, 1] for the given rank (1.0 when ``rank`` is None)."""
    s = np.asarray(singular_values, dtype=float).ravel()
    if s.size == 0:
        raise ValueError("singular_spectrum needs at least one singular value")
    if (s < 0).any() or not np.isfinite(s).all():
        raise ValueError("singular values must be finite and non-negative")
    if np.any(np.diff(s) > 1e-12 * max(s[0], 1e-300)):
        raise ValueError("singular values must be sorted in descending order")
    if rank is None:
        rank = s.size
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank <= s.size:
        raise ValueError(f"rank must be an integer in [0, {s.size}], got {rank!r}")
    ax = new_axes(ax)
    idx = np.arange(1, s.size + 1)
    colours = np.where(idx <= rank, "C0", "0.75")
    ax.bar(idx, np.maximum(s, 1e-30), color=colours, width=1.0)
    ax.set_yscale("log")
    ax.set(xlabel="index of singular value", ylabel="singular value", title=title)
    energy = np.cumsum(s ** 2) / max(float((s ** 2).sum()), 1e-300)
    twin = ax.twinx()
    twin.plot(idx, 100 * energy, color="C3", lw=1.5)
    twin.set_ylim(0, 101)
    twin.set_ylabel("kept energy (%)", color="C3")
    kept = float(energy[rank - 1]) if rank > 0 else 0.0
    ax.axvline(rank + 0.5, color="k", lw=1, ls="--")
    ax.kept_energy = kept
    return ax
