"""Graders. Importing this package registers every built-in grader by name."""

from graders import boot, checklist, functional, fuzz, schema, security
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
    "checklist",
    "functional",
    "fuzz",
    "register_grader",
    "registered_graders",
    "schema",
    "security",
]
