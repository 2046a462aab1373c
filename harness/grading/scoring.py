"""The composite `overall` score and the `correct_and_secure` flag.

`overall` is a weighted mean of the graders that ran (each grader's declared `weight`,
harness/graders/registry.py), in which the graders that cannot tell what the app
implements (those declaring `coverage_scaled`: boot, checklist) enter multiplied by the
app's contract coverage. The others already score against the contract's operations, so
an app that implements nothing scores 0 on them; without the scaling, an app that only
boots and has tidy code would still earn their weight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import harness.graders.contract
from harness.core.records import correct_and_secure
from harness.graders.digest import files_digest
from harness.graders.registry import coverage_scaled_graders, grader_weights

__all__ = ["composite_version", "correct_and_secure", "overall_score"]


def overall_score(
    scores: Mapping[str, float],
    coverage: float | None = None,
    weights: Mapping[str, float] | None = None,
) -> float:
    """Weighted mean over the graders present (unknown graders weigh 1); the
    coverage-scaled ones count `score x coverage` when coverage was measured. `weights`
    defaults to the registered graders'."""
    weights = grader_weights() if weights is None else weights
    scaled = coverage_scaled_graders()
    present = {name: score for name, score in scores.items() if name != "overall"}
    if not present:
        return 0.0
    total_weight = sum(weights.get(name, 1.0) for name in present)
    weighted = sum(
        weights.get(name, 1.0)
        * score
        * (coverage if coverage is not None and name in scaled else 1.0)
        for name, score in present.items()
    )
    return round(weighted / total_weight, 4)


@cache
def composite_version() -> str:
    """What a row's `overall` and `coverage` are computed with (this module, the weights,
    the coverage measurement): part of every grade's cache key, beside the graders'
    versions, so a changed composite is never served from the cache."""
    weights = repr(sorted(grader_weights().items())) + repr(sorted(coverage_scaled_graders()))
    code = files_digest([Path(__file__), Path(harness.graders.contract.__file__)])
    return f"{code}+{hashlib.sha256(weights.encode()).hexdigest()[:8]}"
