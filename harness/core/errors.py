"""Errors the harness reports to its user, as opposed to a model's failures."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class HarnessError(Exception):
    """The harness itself could not do its job; the CLI prints it and exits non-zero."""


class InputFileError(HarnessError):
    """A file the user (or a task author) supplied is missing or malformed."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class InfrastructureError(HarnessError):
    """A database server, engine or venv failed: never counted against a model."""


def describe_validation_error(path: Path, error: ValidationError) -> InputFileError:
    """Turn pydantic's error list into one message that names the file and each field."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"field '{field}': {item['msg']}")
    return InputFileError(path, "; ".join(lines))
