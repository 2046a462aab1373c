"""The statistics behind the leaderboard and the comparison: the unbiased pass@k
estimator, percentile bootstrap intervals and exact tests for paired data.

Plain numpy and exact integer arithmetic (no scipy): every number here can be checked
by hand, and the bootstrap is seeded so a page rebuilt from the same rows is identical.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021): the probability that at least one of k samples drawn without
    replacement from n (c of them correct) is correct, `1 - C(n-c, k) / C(n, k)`."""
    if k < 1 or n < k or not 0 <= c <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_array(n: FloatArray, c: FloatArray, k: int) -> FloatArray:
    """`pass_at_k` elementwise, NaN where n < k. Uses the product form
    C(n-c, k) / C(n, k) = prod_{i<k} (n-c-i) / (n-i), which stays exact in floats for
    the sample counts seen here and is zero as soon as a factor is."""
    ratio = np.ones(np.broadcast(n, c).shape, dtype=np.float64)
    for i in range(k):
        numerator = np.clip(n - c - i, 0.0, None)
        denominator = np.where(n - i > 0, n - i, 1.0)
        ratio = ratio * numerator / denominator
    result: FloatArray = np.where(n >= k, 1.0 - ratio, np.nan)
    return result


def nan_mean(values: FloatArray, axis: int | tuple[int, ...]) -> FloatArray:
    """Mean over `axis` ignoring NaN; NaN (without a warning) where all are NaN."""
    present = ~np.isnan(values)
    total = np.where(present, values, 0.0).sum(axis=axis)
    count = present.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return result


def percentile_interval(
    replicates: FloatArray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """The percentile bootstrap interval (numpy's default linear interpolation);
    NaN bounds when no replicate is finite."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return (float(low), float(high))


def stable_seed(*parts: object) -> int:
    """A seed derived from values, stable across processes (unlike `hash()`), so adding
    a model to the results never changes another model's interval."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def binomial_two_sided(successes: int, trials: int) -> float:
    """Exact two-sided p-value of `successes` in `trials` fair coin flips: twice the
    smaller tail, capped at 1. Integer arithmetic, so it is exact for any count."""
    if trials == 0:
        return 1.0
    smaller = min(successes, trials - successes)
    tail = sum(math.comb(trials, i) for i in range(smaller + 1))
    return min(1.0, 2 * tail / (1 << trials))


def mcnemar_exact(regressed: int, improved: int) -> float:
    """McNemar's exact test on paired pass/fail: only discordant pairs carry
    information, and under no difference each is equally likely to go either way."""
    return binomial_two_sided(regressed, regressed + improved)


def sign_test(differences: FloatArray) -> tuple[int, int, int, float]:
    """Exact sign test on paired score differences: (ups, downs, ties, p). Ties are
    dropped, as the test requires."""
    ups = int((differences > 0).sum())
    downs = int((differences < 0).sum())
    ties = int(differences.size) - ups - downs
    return ups, downs, ties, binomial_two_sided(ups, ups + downs)
