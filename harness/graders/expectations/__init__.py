"""Per-task schema expectations: what the schema grader looks for in the database an app
created, as data (`tasks/<task-id>/grading/schema.yaml`), derived from the task's contract.
Every task has one: a task without it is an error naming the missing file, raised when the
task is loaded.

Names are matched tolerantly, because the contract fixes the API and not the tables:
an entity is found by name stems (`user` matches `users`, `user`, `app_users`), a
column by a list of accepted names and, failing those, by substrings (`password`
matches `hashed_password` and `password_hash`). A relation is a foreign key from one
entity's table to another's, found by the table it refers to, whatever its column
is called.

File format (validated by `SchemaExpectations`):

    task: <task-id>
    entities:                      # tables the contract implies
      - name: user                 # used in evidence and by relations
        tables: [user, account]    # name stems, matched on singular name tokens
        required: true             # false: checked only when such a table exists
        columns:
          - name: email            # canonical name
            names: [email, email_address]   # accepted names (default: [name])
            like: [email]          # else the first column containing one of these
            optional: false        # true: no finding when the column is absent
            required: true         # NOT NULL
            unique: true           # a unique constraint/index on this column alone
            indexed: true          # leading column of some index (filter/sort field)
            money: false           # DECIMAL/NUMERIC with scale 2
        timestamps: [created_at, updated_at]   # present, date-time typed, NOT NULL
    relations:                     # foreign keys, found by the table they refer to
      - from: comment
        to: post
        required: true             # the foreign key column is NOT NULL
        indexed: true              # ... and leads an index
        on_delete: cascade         # cascade | set null | restrict
        why: DELETE /posts/{id} removes its comments too
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.core.errors import InputFileError, describe_validation_error
from harness.core.settings import TASKS_DIR
from harness.core.tasks import SCHEMA_EXPECTATIONS_FILE, grading_data_paths
from harness.graders.digest import files_digest

CREATED_AT_NAMES = (
    "created_at",
    "created",
    "created_on",
    "creation_date",
    "date_created",
    "inserted_at",
    "createdat",
)
UPDATED_AT_NAMES = (
    "updated_at",
    "updated",
    "updated_on",
    "modified_at",
    "modified",
    "last_modified",
    "date_updated",
    "updatedat",
)
TIMESTAMP_NAMES: dict[str, tuple[str, ...]] = {
    "created_at": CREATED_AT_NAMES,
    "updated_at": UPDATED_AT_NAMES,
}


class ColumnExpectation(BaseModel):
    """One field of an entity and the database properties the contract implies for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    names: tuple[str, ...] = ()
    like: tuple[str, ...] = ()
    optional: bool = False
    required: bool = False
    unique: bool = False
    indexed: bool = False
    money: bool = False

    @property
    def accepted_names(self) -> tuple[str, ...]:
        return self.names or TIMESTAMP_NAMES.get(self.name, (self.name,))


class EntityExpectation(BaseModel):
    """A table the contract implies, found by name stems."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    tables: tuple[str, ...] = Field(min_length=1)
    required: bool = True
    columns: tuple[ColumnExpectation, ...] = ()
    timestamps: tuple[Literal["created_at", "updated_at"], ...] = ()


class RelationExpectation(BaseModel):
    """A foreign key the contract implies, from one entity's table to another's."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    required: bool = False
    indexed: bool = False
    on_delete: Literal["cascade", "set null", "restrict"] | None = None
    why: str = ""


class SchemaExpectations(BaseModel):
    """The schema of `tasks/<task-id>/grading/schema.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    entities: tuple[EntityExpectation, ...] = Field(min_length=1)
    relations: tuple[RelationExpectation, ...] = ()

    @model_validator(mode="after")
    def relations_name_entities(self) -> SchemaExpectations:
        known = {entity.name for entity in self.entities}
        for relation in self.relations:
            for end in (relation.source, relation.target):
                if end not in known:
                    raise ValueError(f"relation names unknown entity {end!r}")
        return self


def expectations_paths(tasks_dir: Path = TASKS_DIR) -> list[Path]:
    """Every task's schema expectations, sorted."""
    return grading_data_paths(SCHEMA_EXPECTATIONS_FILE, tasks_dir)


def expectation_files(tasks_dir: Path = TASKS_DIR) -> tuple[Path, ...]:
    """Every task's expectations file: data the schema and boot graders declare
    (`data_files`), so grade caches keyed on grader versions notice an edited one."""
    return tuple(expectations_paths(tasks_dir))


def expectations_digest(tasks_dir: Path = TASKS_DIR) -> str:
    """A short hash of every task's expectations file: part of the schema and boot graders'
    versions, so grade caches keyed on grader versions notice an edited expectation."""
    return files_digest(expectation_files(tasks_dir))


def expectations_path(task_id: str, tasks_dir: Path = TASKS_DIR) -> Path:
    return tasks_dir / task_id / SCHEMA_EXPECTATIONS_FILE


@cache
def load_expectations(task_id: str, tasks_dir: Path = TASKS_DIR) -> SchemaExpectations:
    """The task's expectations; a task without them is an error naming the missing file,
    and a malformed file names the file and the field."""
    path = expectations_path(task_id, tasks_dir)
    if not path.is_file():
        raise InputFileError(
            path, f"no schema expectations for task {task_id!r}: every task needs them"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
    try:
        expectations = SchemaExpectations.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    if expectations.task != task_id:
        raise InputFileError(path, f"field 'task': {expectations.task!r} is not {task_id!r}")
    return expectations
