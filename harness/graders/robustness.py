"""robustness: the task's hidden tests marked `robustness`, which send extreme input (NUL
bytes, integers beyond int32/int64, huge offsets, oversized strings, lone surrogates).
Run by pytest from outside the app like `functional` (harness/graders/functional.py runs
them the same way); scores the share of its tests passed."""

from __future__ import annotations

from harness.graders.functional import HiddenTestsGrader
from harness.graders.pytest_plugin import ROBUSTNESS_MARKER


class RobustnessGrader(HiddenTestsGrader):
    name = "robustness"
    weight = 1.0
    order = 30  # right after functional, before any other traffic
    decides_proofs = True
    marker_expression = ROBUSTNESS_MARKER
    report_stem = "robustness-tests"
