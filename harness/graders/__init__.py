"""Graders: `registered_graders()` gives every grader by name, in the default run's order
(harness/graders/registry.py lists the built-in modules and reads the third-party entry
points; the package itself imports none of them)."""

from harness.core.records import Finding, GradeResult
from harness.graders.base import Grader, GraderDeclarationError, GradingContext
from harness.graders.registry import registered_graders

__all__ = [
    "Finding",
    "GradeResult",
    "Grader",
    "GraderDeclarationError",
    "GradingContext",
    "registered_graders",
]
