"""Graders: `registered_graders()` gives every built-in grader by name (each module
registers itself when imported; the package itself imports none of them)."""

from harness.graders.base import (
    Finding,
    Grader,
    GradeResult,
    GradingContext,
    register_grader,
    registered_graders,
)

__all__ = [
    "Finding",
    "GradeResult",
    "Grader",
    "GradingContext",
    "register_grader",
    "registered_graders",
]
