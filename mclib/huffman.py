"""Huffman coding and relative (gap) indices: the storage stages of Deep Compression.

Han et al. 2016 (Deep Compression) store a pruned, k-means-quantized layer as two streams, each
Huffman coded: the cluster index of every kept weight, and the position of every kept weight as a
gap from the previous one. This module computes the sizes of those streams; it never builds the bit
strings themselves, because the course only needs their length.

Conventions:
- Sizes are in **bits** (integers). The code table that a decoder also needs is not counted; for a
  few dozen symbols it is tiny next to tens of thousands of coded values, and the paper ignores it too.
- A symbol is any hashable value (ints from a tensor are converted to Python ints).
- An alphabet of a single symbol still gets a 1-bit code (a real stream needs at least one bit per
  value to be decodable without knowing its length).
- Relative indices: the gap of a kept position from the previous kept one (a virtual one sits at
  -1), so gaps are at least 1. With ``index_bits`` bits a gap of 1 .. 2**index_bits can be stored
  (as gap - 1); a longer gap is bridged by *filler* entries, each a stored zero that advances the
  position by 2**index_bits.
"""
from __future__ import annotations

import heapq
import itertools
from collections import Counter
from typing import Hashable, Iterable, Mapping

import torch

__all__ = ["code_lengths", "symbol_counts", "encoded_bits", "relative_gaps"]


def _symbols(values) -> list:
    if isinstance(values, torch.Tensor):
        return values.detach().flatten().tolist()
    if isinstance(values, (str, bytes)):
        raise TypeError("values must be a tensor, an array or an iterable of symbols, not a string")
    try:
        import numpy as np
        if isinstance(values, np.ndarray):
            return values.ravel().tolist()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if not isinstance(values, Iterable):
        raise TypeError(f"values must be a tensor, an array or an iterable of symbols, "
                        f"got {type(values).__name__}")
    return list(values)


def symbol_counts(values) -> dict[Hashable, int]:
    """How many times each symbol occurs in ``values`` (a tensor, array or iterable)."""
    return dict(Counter(_symbols(values)))


def code_lengths(frequencies: Mapping[Hashable, int]) -> dict[Hashable, int]:
    """Length in bits of each symbol's Huffman code, for ``frequencies`` (symbol -> count).

    Built with a heap: the two least frequent subtrees are merged until one is left, and each
    merge adds one bit to every symbol beneath it. Symbols with count 0 get no code. Ties are
    broken by first appearance in ``frequencies``, so the result is deterministic.
    """
    if not isinstance(frequencies, Mapping):
        raise TypeError(f"frequencies must be a mapping symbol -> count, got "
                        f"{type(frequencies).__name__}")
    items = []
    for symbol, count in frequencies.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"the count of symbol {symbol!r} must be a non-negative integer, "
                             f"got {count!r}")
        if count:
            items.append((symbol, count))
    if not items:
        raise ValueError("code_lengths needs at least one symbol with a positive count")
    if len(items) == 1:
        return {items[0][0]: 1}
    lengths = {symbol: 0 for symbol, _ in items}
    tie = itertools.count()
    heap = [(count, next(tie), [symbol]) for symbol, count in items]
    heapq.heapify(heap)
    while len(heap) > 1:
        count_a, _, group_a = heapq.heappop(heap)
        count_b, _, group_b = heapq.heappop(heap)
        for symbol in itertools.chain(group_a, group_b):
            lengths[symbol] += 1
        heapq.heappush(heap, (count_a + count_b, next(tie), group_a + group_b))
    return lengths


def encoded_bits(values) -> int:
    """Bits of ``values`` (a tensor, array or iterable of symbols) Huffman coded with a code built
    from their own frequencies: sum over symbols of count x code length. 0 for no values."""
    counts = symbol_counts(values)
    if not counts:
        return 0
    lengths = code_lengths(counts)
    return int(sum(counts[s] * lengths[s] for s in counts))


def relative_gaps(mask: torch.Tensor, index_bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deep Compression's relative index of the kept (True) positions of ``mask`` (flattened in
    row-major order), with ``index_bits`` bits per entry.

    Returns ``(codes, filler)``: one entry per stored value, in order; ``codes`` holds gap - 1
    (int64 in 0 .. 2**index_bits - 1) and ``filler`` is True where the entry is a filler zero that
    only bridges a gap longer than 2**index_bits. The number of stored entries is
    ``mask.sum() + filler.sum()``.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a torch.bool tensor, got "
                        f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    if isinstance(index_bits, bool) or not isinstance(index_bits, int) or not 1 <= index_bits <= 32:
        raise ValueError(f"index_bits must be an integer from 1 to 32, got {index_bits!r}")
    span = 2 ** index_bits
    positions = torch.nonzero(mask.flatten()).flatten()
    gaps = torch.diff(positions, prepend=positions.new_tensor([-1]))
    fillers = (gaps - 1) // span                  # fillers needed before each kept value
    entries = int(fillers.sum()) + len(gaps)
    codes = torch.empty(entries, dtype=torch.int64)
    filler = torch.zeros(entries, dtype=torch.bool)
    # each kept value sits after its fillers; the fillers' codes are all span - 1 (a full jump)
    value_slot = torch.cumsum(fillers + 1, 0) - 1
    codes.fill_(span - 1)
    filler.fill_(True)
    codes[value_slot] = gaps - 1 - fillers * span
    filler[value_slot] = False
    return codes, filler
