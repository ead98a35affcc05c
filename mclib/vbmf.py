"""Rank selection by empirical variational Bayesian matrix factorization (EVBMF).

Nakajima, Sugiyama, Babacan and Tomioka (2013), "Global analytic solution of fully-observed
variational Bayesian matrix factorization", JMLR 14: for an observed matrix Y = B A^T + noise
(Gaussian noise of unknown variance sigma^2, Gaussian priors on the columns of A and B whose
variances are also learned from Y), the variational Bayes posterior keeps exactly the singular
components of Y whose singular value exceeds a threshold, and shrinks them. This module computes
that solution in closed form (up to a one-dimensional search for sigma^2), so its ``rank`` is an
automatic, hyper-parameter free rank choice. Kim et al. (2016) use it on the mode-0 and mode-1
unfoldings of a convolution kernel to pick the Tucker-2 ranks.

Conventions:
- ``Y`` is any 2-D real tensor or array of shape (rows, columns); the result does not depend on
  which side is longer (the computation transposes to L <= M internally).
- Computations are in float64 on the CPU; the result's tensors are float64.
- ``sigma2`` is the noise variance per entry of ``Y`` (not its standard deviation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["VBMFResult", "evbmf", "evbmf_rank", "tau_bar"]


@dataclass(frozen=True)
class VBMFResult:
    """The EVBMF solution of one matrix.

    ``rank``: number of kept components; ``sigma2``: noise variance per entry (estimated, or the
    one given); ``threshold``: singular values of Y above it are kept; ``singular_values``: all
    singular values of Y, descending (length L = min(rows, columns)); ``shrunk``: the posterior
    singular values of the kept components (length ``rank``, each below the observed one).
    """

    rank: int
    sigma2: float
    threshold: float
    singular_values: torch.Tensor
    shrunk: torch.Tensor


def tau_bar(alpha: float) -> float:
    """The zero tau > 0 of log(tau + 1) + alpha * log(tau / alpha + 1) - tau, for alpha = L / M in
    (0, 1]. It fixes the EVB threshold sigma * sqrt(M (1 + tau)(1 + alpha / tau)); at alpha = 1 it is
    about 2.5129 (the value often hard-coded as 2.5129 * sqrt(alpha))."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha = L / M must lie in (0, 1], got {alpha!r}")
    from scipy.optimize import brentq

    def psi(t):
        return math.log(t + 1) + alpha * math.log(t / alpha + 1) - t

    # psi(t) ~ t > 0 near 0 and psi -> -inf as t grows: one sign change, bracketed below.
    hi = 1.0
    while psi(hi) > 0:
        hi *= 2
    return float(brentq(psi, 1e-12, hi, xtol=1e-12))


def _as_matrix(y) -> torch.Tensor:
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(y)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"Y must be a torch.Tensor or numpy array, got {type(y).__name__}")
    if y.dim() != 2 or min(y.shape) < 1:
        raise ValueError(f"Y must be a non-empty 2-D matrix, got shape {tuple(y.shape)}")
    if y.is_complex():
        raise TypeError("Y must be real, got a complex tensor")
    y = y.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(y).all():
        raise ValueError("Y contains NaN or infinite values")
    return y


def _objective(sigma2: float, s2: np.ndarray, L: int, M: int, residual: float, x_ubar: float,
               alpha: float) -> float:
    """Free energy (up to constants) of EVBMF as a function of sigma2 (Nakajima et al. 2013)."""
    H = len(s2)
    x = s2 / (M * sigma2)
    z1 = x[x > x_ubar]
    z2 = x[x <= x_ubar]
    tau_z1 = 0.5 * (z1 - (1 + alpha) + np.sqrt((z1 - (1 + alpha)) ** 2 - 4 * alpha))
    return float(np.sum(z2 - np.log(z2)) + np.sum(z1 - tau_z1)
                 + np.sum(np.log((tau_z1 + 1) / z1)) + alpha * np.sum(np.log(tau_z1 / alpha + 1))
                 + residual / (M * sigma2) + (L - H) * math.log(sigma2))


def evbmf(y, sigma2: float | None = None) -> VBMFResult:
    """Global analytic empirical VBMF of matrix ``y``.

    With ``sigma2=None`` the noise variance is estimated by minimising the free energy over the
    interval the paper proves contains it; otherwise the given variance (> 0) is used.
    """
    y = _as_matrix(y)
    if y.shape[0] > y.shape[1]:
        y = y.T
    L, M = y.shape
    s = torch.linalg.svdvals(y)
    s_np = s.numpy()
    s2 = s_np ** 2
    alpha = L / M
    tb = tau_bar(alpha)
    x_ubar = (1 + tb) * (1 + alpha / tb)
    if sigma2 is None:
        if L < 2:
            raise ValueError("estimating the noise variance needs at least 2 rows and 2 columns; "
                             "pass sigma2 for a vector")
        residual = 0.0  # all L singular values are used
        # Largest rank that EVB can return (paper: H_ub = ceil(L / (1 + alpha)) - 1); the
        # singular values past it bound sigma2 from below.
        h_ub = min(math.ceil(L / (1 + alpha)) - 1, L - 1)
        upper = float(s2.sum() + residual) / (L * M)
        lower = max(float(s2[h_ub]) / (M * x_ubar), float(s2[h_ub:].mean()) / M)
        lower = min(lower, upper)
        if upper <= 0:
            raise ValueError("Y is all zeros: there is nothing to factorize")
        from scipy.optimize import minimize_scalar

        res = minimize_scalar(_objective, bounds=(lower, upper), method="bounded",
                              args=(s2, L, M, residual, x_ubar, alpha),
                              options={"xatol": 1e-10 * upper})
        sigma2 = float(res.x)
    else:
        if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float)) or not sigma2 > 0:
            raise ValueError(f"sigma2 must be a positive number (a variance), got {sigma2!r}")
        sigma2 = float(sigma2)
    threshold = math.sqrt(M * sigma2 * x_ubar)
    rank = int((s_np > threshold).sum())
    kept = s_np[:rank]
    a = 1 - (L + M) * sigma2 / kept ** 2
    shrunk = kept / 2 * (a + np.sqrt(np.maximum(a ** 2 - 4 * L * M * sigma2 ** 2 / kept ** 4, 0)))
    return VBMFResult(rank=rank, sigma2=sigma2, threshold=threshold, singular_values=s,
                      shrunk=torch.from_numpy(shrunk))


def evbmf_rank(y, sigma2: float | None = None, min_rank: int = 1) -> int:
    """``evbmf(y, sigma2).rank``, but at least ``min_rank`` (a layer needs rank >= 1)."""
    if isinstance(min_rank, bool) or not isinstance(min_rank, int) or min_rank < 0:
        raise ValueError(f"min_rank must be a non-negative integer, got {min_rank!r}")
    return max(evbmf(y, sigma2).rank, min_rank)
