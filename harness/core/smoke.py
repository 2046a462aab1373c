"""A task's public smoke check (`tasks/<id>/smoke.yaml`): a few ordinary requests per
contract operation, each expecting a status class, that a developer would try by hand
after starting the app. Between rounds (`--rounds`) the model sees their outcome; they
are public, kept apart from the hidden tests and never decide a score.

    task: user-crud
    steps:
      - name: create a user              # what the step does, shown to the model
        method: POST
        path: /users/{user}              # `{name}`: a value saved by an earlier step
        query: {limit: "10"}             # optional
        body: {email: a@example.com}     # optional JSON; a string "{name}" is the saved
                                         # value itself (an int stays an int)
        auth: access                     # optional: `Authorization: Bearer <saved access>`
        expect: 2xx                      # 2xx or 4xx: a status class, nothing finer
        save: {user: id}                 # optional: saved name -> field of the JSON answer

Every contract operation (`grading/openapi.yaml`) has 1 to 3 steps; a step aims at a
contract operation. A malformed file is an error naming the file and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core.errors import InputFileError, describe_validation_error
from harness.core.files import SMOKE_FILE

MAX_STEPS_PER_OPERATION = 3
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SmokeStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    query: dict[str, str] = {}
    body: Any = None
    auth: str | None = None
    expect: Literal["2xx", "4xx"]
    save: dict[str, str] = {}

    def path_shape(self) -> str:
        """The path with every placeholder as `{}`: compared with the contract's."""
        return _PLACEHOLDER.sub("{}", self.path)

    def operation(self) -> str:
        return f"{self.method} {self.path}"


class SmokePlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    steps: list[SmokeStep] = Field(min_length=1)


def _shape(route: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", route)


def load_smoke_plan(path: Path, task_id: str, operations: list[str]) -> SmokePlan:
    """The smoke plan in `path`, checked against the task's contract operations
    (`METHOD /route`): every step aims at one, each has 1 to 3 steps, and each
    placeholder is saved by an earlier step."""
    if not path.is_file():
        raise InputFileError(path, f"missing: task {task_id!r} has no public smoke check")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping of fields at the top level")
    try:
        plan = SmokePlan.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    if plan.task != task_id:
        raise InputFileError(path, f"field 'task': {plan.task!r} is not {task_id!r}")
    by_shape = {(op.split(" ", 1)[0], _shape(op.split(" ", 1)[1])): op for op in operations}
    counts = dict.fromkeys(operations, 0)
    saved: set[str] = set()
    for index, step in enumerate(plan.steps):
        where = f"field 'steps.{index}'"
        operation = by_shape.get((step.method, step.path_shape()))
        if operation is None:
            raise InputFileError(path, f"{where}: {step.operation()} is not a contract operation")
        counts[operation] += 1
        used = set(_PLACEHOLDER.findall(step.path)) | _placeholders_in(step.body)
        used |= {step.auth} if step.auth else set()
        for value in step.query.values():
            used |= set(_PLACEHOLDER.findall(value))
        if missing := sorted(used - saved):
            raise InputFileError(
                path, f"{where}: {', '.join(missing)} not saved by an earlier step"
            )
        saved |= set(step.save)
    for operation, count in counts.items():
        if not 1 <= count <= MAX_STEPS_PER_OPERATION:
            raise InputFileError(
                path,
                f"field 'steps': {operation} has {count} steps "
                f"(every contract operation needs 1 to {MAX_STEPS_PER_OPERATION})",
            )
    return plan


def _placeholders_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_placeholders_in(v) for v in value))
    return set()


def fill(value: Any, saved: dict[str, Any]) -> Any:
    """`value` with each `{name}` replaced by the saved value; a string that is exactly
    one placeholder becomes the saved value itself (an id stays an int)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return saved.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(saved.get(m.group(1), "")), value)
    if isinstance(value, dict):
        return {k: fill(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, saved) for v in value]
    return value


def smoke_path(task_root: Path) -> Path:
    return task_root / SMOKE_FILE
