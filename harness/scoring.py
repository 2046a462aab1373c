"""The composite `overall` score: a weighted mean of the graders that ran."""

from __future__ import annotations

from collections.abc import Mapping

from harness.config import GRADER_WEIGHTS


def overall_score(
    scores: Mapping[str, float], weights: Mapping[str, float] = GRADER_WEIGHTS
) -> float:
    """Weighted mean over the graders present; unknown graders weigh 1."""
    present = {name: score for name, score in scores.items() if name != "overall"}
    if not present:
        return 0.0
    total_weight = sum(weights.get(name, 1.0) for name in present)
    weighted = sum(weights.get(name, 1.0) * score for name, score in present.items())
    return round(weighted / total_weight, 4)
