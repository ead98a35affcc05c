"""Unit tests of mclib.huffman against hand-computed examples."""
import math

import pytest
import torch

from mclib import huffman


def test_code_lengths_textbook_example():
    # a:45 b:13 c:12 d:16 e:9 f:5 (CLRS): a=1 bit, b c d 3 bits, e f 4 bits; 224 bits in total
    freq = {"a": 45, "b": 13, "c": 12, "d": 16, "e": 9, "f": 5}
    lengths = huffman.code_lengths(freq)
    assert lengths == {"a": 1, "b": 3, "c": 3, "d": 3, "e": 4, "f": 4}
    assert sum(freq[s] * lengths[s] for s in freq) == 224


def test_code_lengths_satisfy_kraft_with_equality():
    gen = torch.Generator().manual_seed(0)
    counts = torch.randint(1, 1000, (37,), generator=gen).tolist()
    lengths = huffman.code_lengths(dict(enumerate(counts)))
    assert math.isclose(sum(2.0 ** -n for n in lengths.values()), 1.0)


def test_uniform_power_of_two_alphabet_needs_fixed_width():
    # 8 equally frequent symbols: every code is 3 bits, as a fixed-width index would be
    assert set(huffman.code_lengths({s: 10 for s in range(8)}).values()) == {3}


def test_single_symbol_and_zero_counts():
    assert huffman.code_lengths({"x": 7}) == {"x": 1}
    assert huffman.code_lengths({"x": 7, "y": 0, "z": 1}) == {"x": 1, "z": 1}


def test_encoded_bits_of_a_tensor():
    # counts 0:4, 1:2, 2:1, 3:1 -> lengths 1, 2, 3, 3 -> 4 + 4 + 3 + 3 = 14 bits
    values = torch.tensor([[0, 0, 1, 3], [0, 2, 1, 0]])
    assert huffman.encoded_bits(values) == 14
    assert huffman.encoded_bits(torch.tensor([], dtype=torch.long)) == 0
    assert huffman.symbol_counts(values) == {0: 4, 1: 2, 2: 1, 3: 1}


def test_bad_input_messages():
    with pytest.raises(ValueError, match="non-negative integer"):
        huffman.code_lengths({"a": -1})
    with pytest.raises(ValueError, match="at least one symbol"):
        huffman.code_lengths({"a": 0})
    with pytest.raises(TypeError, match="mapping"):
        huffman.code_lengths([("a", 1)])
    with pytest.raises(TypeError, match="not a string"):
        huffman.encoded_bits("abc")


def test_relative_gaps_paper_example():
    # Deep Compression Fig. 2 style: kept positions 1, 4, 15 with 3-bit gaps (jumps of up to 8):
    # gaps 2, 3, 11 -> 11 needs one filler (jump of 8) then a gap of 3
    mask = torch.zeros(16, dtype=torch.bool)
    mask[[1, 4, 15]] = True
    codes, filler = huffman.relative_gaps(mask, index_bits=3)
    assert codes.tolist() == [1, 2, 7, 2]
    assert filler.tolist() == [False, False, True, False]
    # decoding the stream gives back the positions
    pos, kept = -1, []
    for c, f in zip(codes.tolist(), filler.tolist()):
        pos += c + 1
        if not f:
            kept.append(pos)
    assert kept == [1, 4, 15]


def test_relative_gaps_round_trip_random_mask():
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(40, 50, generator=gen) < 0.05
    codes, filler = huffman.relative_gaps(mask, index_bits=4)
    assert codes.min() >= 0 and codes.max() <= 15
    positions = torch.cumsum(codes + 1, 0) - 1
    assert torch.equal(positions[~filler], torch.nonzero(mask.flatten()).flatten())
    assert int((~filler).sum()) == int(mask.sum())


def test_relative_gaps_bad_input():
    with pytest.raises(TypeError, match="torch.bool"):
        huffman.relative_gaps(torch.ones(3), 4)
    with pytest.raises(ValueError, match="index_bits"):
        huffman.relative_gaps(torch.ones(3, dtype=torch.bool), 0)
