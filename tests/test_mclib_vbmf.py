"""Unit tests of mclib.vbmf: EVBMF recovers the rank of low-rank-plus-noise matrices."""
import math

import numpy as np
import pytest
import torch

from mclib.vbmf import VBMFResult, evbmf, evbmf_rank, tau_bar


def low_rank_plus_noise(rows, cols, rank, noise_std, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(rows, rank, generator=g, dtype=torch.float64)
    b = torch.randn(rank, cols, generator=g, dtype=torch.float64)
    return a @ b + noise_std * torch.randn(rows, cols, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rows,cols,rank,noise_std", [
    (40, 60, 5, 1.0), (80, 50, 10, 0.5), (30, 300, 3, 2.0), (64, 64, 8, 0.1)])
def test_recovers_true_rank_and_noise(rows, cols, rank, noise_std, seed):
    y = low_rank_plus_noise(rows, cols, rank, noise_std, seed)
    res = evbmf(y)
    assert isinstance(res, VBMFResult)
    assert res.rank == rank
    assert res.sigma2 == pytest.approx(noise_std ** 2, rel=0.15)
    # kept singular values are exactly those above the threshold, and are shrunk
    s = res.singular_values
    assert (s[:rank] > res.threshold).all() and (s[rank:] <= res.threshold).all()
    assert res.shrunk.shape == (rank,)
    assert ((res.shrunk > 0) & (res.shrunk < s[:rank])).all()


def test_pure_noise_gives_rank_zero_and_min_rank_applies():
    y = torch.randn(50, 70, generator=torch.Generator().manual_seed(3))
    assert evbmf(y).rank == 0
    assert evbmf_rank(y) == 1
    assert evbmf_rank(y, min_rank=0) == 0


def test_transpose_and_numpy_give_the_same_answer():
    y = low_rank_plus_noise(30, 45, 4, 0.3, seed=5)
    a, b, c = evbmf(y), evbmf(y.T), evbmf(y.numpy())
    assert a.rank == b.rank == c.rank == 4
    assert a.sigma2 == pytest.approx(b.sigma2, rel=1e-6)
    assert a.sigma2 == pytest.approx(c.sigma2, rel=1e-6)


def test_known_noise_variance_sets_the_threshold():
    y = low_rank_plus_noise(40, 60, 5, 1.0, seed=7)
    res = evbmf(y, sigma2=1.0)
    alpha = 40 / 60
    t = tau_bar(alpha)
    assert res.threshold == pytest.approx(math.sqrt(60 * (1 + t) * (1 + alpha / t)))
    assert res.rank == 5
    # a huge assumed noise keeps nothing
    assert evbmf(y, sigma2=1e6).rank == 0


def test_tau_bar_matches_its_equation_and_the_usual_constant():
    for alpha in (0.05, 0.3, 1.0):
        t = tau_bar(alpha)
        assert t > 0
        assert math.log(t + 1) + alpha * math.log(t / alpha + 1) - t == pytest.approx(0, abs=1e-9)
    assert tau_bar(1.0) == pytest.approx(2.5129, abs=1e-4)


@pytest.mark.parametrize("bad,err", [
    (torch.zeros(3), ValueError), (torch.zeros(0, 4), ValueError), ([[1.0, 2.0]], TypeError),
    (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError)])
def test_bad_inputs(bad, err):
    with pytest.raises(err):
        evbmf(bad)


def test_bad_arguments():
    y = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="sigma2"):
        evbmf(y, sigma2=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        tau_bar(1.5)
    with pytest.raises(ValueError, match="min_rank"):
        evbmf_rank(y, min_rank=-1)
    with pytest.raises(ValueError, match="all zeros"):
        evbmf(torch.zeros(4, 5))
    assert np.isfinite(evbmf(y).sigma2)
