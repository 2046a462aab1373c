"""Graders. Importing this package registers every built-in grader by name."""

from graders import boot, functional
from graders.base import (
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
    "boot",
    "functional",
    "register_grader",
    "registered_graders",
]
