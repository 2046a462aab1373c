"""Task definitions: `tasks/<id>/task.yaml` plus the files it names.

A task holds what the agent sees (request, contract) and what it must never see
(hidden tests, reference solution, mutants). Only `TaskBrief` crosses into prompts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core.errors import HarnessError, InputFileError, describe_validation_error
from harness.core.settings import TASKS_DIR
from harness.core.smoke import SmokePlan, load_smoke_plan, smoke_path

# A task's grading data, read by the graders and never shown to an agent. Every task has
# each file: a task without one is refused when it is loaded, naming the missing file.
PROBE_PLAN_FILE = "grading/probes.yaml"  # harness/graders/probes/plan.py
SCHEMA_EXPECTATIONS_FILE = "grading/schema.yaml"  # harness/graders/expectations/
GRADING_DATA_FILES = {
    PROBE_PLAN_FILE: "probe plan (the fuzz and security graders)",
    SCHEMA_EXPECTATIONS_FILE: "schema expectations (the boot and schema graders)",
}


class TaskSpec(BaseModel):
    """The schema of task.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    version: int = Field(ge=1)
    request: str
    contract: str
    hidden_tests: str = "hidden"
    reference: str = "reference"
    needs_jwt_secret: bool = False
    # Unused: boot finds tables with the schema grader's entity matcher. Kept so task
    # files that still list it load.
    expected_tables: list[str] = []
    # The contract as an OpenAPI document, for the graders (never shown to an agent).
    contract_openapi: str = "grading/openapi.yaml"


class MutantEdit(BaseModel):
    """One textual change applied to a copy of the reference solution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    find: str = Field(min_length=1)
    replace: str


class Mutant(BaseModel):
    """A known-bad variant of the reference and the hidden tests that must catch it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str = Field(min_length=1)
    must_fail: list[str] = Field(min_length=1)
    edits: list[MutantEdit] = Field(min_length=1)


@dataclass(frozen=True)
class TaskBrief:
    """Everything about a task that may be shown to an agent, and nothing else."""

    id: str
    title: str
    request: str
    contract: str
    needs_jwt_secret: bool


def _read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping, naming the file in every error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping of fields at the top level")
    return data


def source_files(root: Path) -> list[Path]:
    """Files under `root`, sorted, without caches and hidden folders (tool droppings)."""
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not any(
            part == "__pycache__" or part.startswith(".") for part in path.relative_to(root).parts
        )
    ]


def read_python_tree(root: Path) -> dict[str, str]:
    """All source files under `root` as relative path -> text."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in source_files(root)
    }


class Task:
    """A loaded, validated task directory."""

    def __init__(self, root: Path, spec: TaskSpec) -> None:
        self.root = root
        self.spec = spec
        self._content_hash: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def hidden_dir(self) -> Path:
        return self.root / self.spec.hidden_tests

    @property
    def reference_dir(self) -> Path:
        return self.root / self.spec.reference

    @property
    def mutants_dir(self) -> Path:
        return self.root / "mutants"

    @property
    def contract_openapi_path(self) -> Path:
        return self.root / self.spec.contract_openapi

    @property
    def probe_plan_path(self) -> Path:
        return self.root / PROBE_PLAN_FILE

    @property
    def schema_expectations_path(self) -> Path:
        return self.root / SCHEMA_EXPECTATIONS_FILE

    @cached_property
    def contract_document(self) -> dict[str, Any]:
        """The contract's OpenAPI document (validated when the task is loaded)."""
        return read_contract_document(self.contract_openapi_path)

    def contract_operations(self) -> list[str]:
        """Every contract operation as `METHOD /path`, in document order."""
        return contract_operations(self.contract_document)

    def brief(self) -> TaskBrief:
        """The agent-visible part of the task."""
        return TaskBrief(
            id=self.spec.id,
            title=self.spec.title,
            request=(self.root / self.spec.request).read_text(encoding="utf-8").strip(),
            contract=(self.root / self.spec.contract).read_text(encoding="utf-8").strip(),
            needs_jwt_secret=self.spec.needs_jwt_secret,
        )

    @cached_property
    def smoke_plan(self) -> SmokePlan:
        """The public smoke check (`smoke.yaml`), validated against the contract; an
        error naming the file when it is missing or malformed."""
        return load_smoke_plan(smoke_path(self.root), self.id, self.contract_operations())

    def reference_files(self) -> dict[str, str]:
        return read_python_tree(self.reference_dir)

    @cached_property
    def mutants(self) -> list[Mutant]:
        """Every mutant under mutants/<name>/mutant.yaml, validated, sorted by name."""
        found: list[Mutant] = []
        if not self.mutants_dir.is_dir():
            return found
        for path in sorted(self.mutants_dir.glob("*/mutant.yaml")):
            data = _read_yaml(path)
            data.setdefault("name", path.parent.name)
            try:
                found.append(Mutant.model_validate(data))
            except ValidationError as exc:
                raise describe_validation_error(path, exc) from exc
        return found

    def mutant(self, name: str) -> Mutant:
        for mutant in self.mutants:
            if mutant.name == name:
                return mutant
        known = ", ".join(m.name for m in self.mutants) or "none"
        raise HarnessError(f"task {self.id} has no mutant {name!r} (known: {known})")

    def mutant_files(self, mutant: Mutant) -> dict[str, str]:
        """The reference with the mutant's edits applied; each `find` must match once."""
        files = self.reference_files()
        where = self.mutants_dir / mutant.name / "mutant.yaml"
        for index, edit in enumerate(mutant.edits):
            if edit.file not in files:
                raise InputFileError(
                    where, f"field 'edits.{index}.file': no reference file {edit.file!r}"
                )
            count = files[edit.file].count(edit.find)
            if count != 1:
                raise InputFileError(
                    where,
                    f"field 'edits.{index}.find': occurs {count} times in {edit.file},"
                    " expected once",
                )
            files[edit.file] = files[edit.file].replace(edit.find, edit.replace)
        return files

    def content_hash(self) -> str:
        """A digest of every file of the task: changes when anything graded changes.

        Computed once per loaded task: the runner asks for it on every grade.
        """
        if self._content_hash is None:
            self._content_hash = self._digest_files()
        return self._content_hash

    def _digest_files(self) -> str:
        digest = hashlib.sha256()
        for path in source_files(self.root):
            if path == smoke_path(self.root):
                continue  # public feedback between rounds, never graded
            digest.update(path.relative_to(self.root).as_posix().encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def read_contract_document(path: Path) -> dict[str, Any]:
    """A task's contract OpenAPI document: a mapping with `openapi` and non-empty `paths`
    whose every item holds at least one operation."""
    if not path.is_file():
        raise InputFileError(path, "the task's contract OpenAPI document is missing")
    document = _read_yaml(path)
    if not str(document.get("openapi", "")).startswith("3."):
        raise InputFileError(path, "field 'openapi': expected an OpenAPI 3.x version")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise InputFileError(path, "field 'paths': expected a mapping of paths")
    for route, item in paths.items():
        if not isinstance(item, dict) or not any(method in item for method in HTTP_METHODS):
            raise InputFileError(path, f"field 'paths.{route}': no operation")
    return document


def contract_operations(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {route}"
        for route, item in document["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


def load_task(task_id: str, tasks_dir: Path = TASKS_DIR) -> Task:
    """Load and validate one task; a malformed file names the file and the field."""
    root = tasks_dir / task_id
    path = root / "task.yaml"
    if not path.is_file():
        known = ", ".join(list_task_ids(tasks_dir)) or "none"
        raise HarnessError(f"unknown task {task_id!r}: no {path} (known tasks: {known})")
    try:
        spec = TaskSpec.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    if spec.id != root.name:
        raise InputFileError(path, f"field 'id': {spec.id!r} does not match folder {root.name!r}")
    for field in ("request", "contract"):
        if not (root / getattr(spec, field)).is_file():
            raise InputFileError(path, f"field '{field}': file {getattr(spec, field)!r} not found")
    for field in ("hidden_tests", "reference"):
        if not (root / getattr(spec, field)).is_dir():
            raise InputFileError(
                path, f"field '{field}': folder {getattr(spec, field)!r} not found"
            )
    for name, what in GRADING_DATA_FILES.items():
        if not (root / name).is_file():
            raise InputFileError(
                root / name, f"missing: task {spec.id!r} has no {what}; every task needs one"
            )
    task = Task(root, spec)
    task.contract_document  # noqa: B018 - validate it now, naming the file, not mid-run
    if smoke_path(root).exists():
        task.smoke_plan  # noqa: B018 - needed only with --rounds, but never malformed
    return task


def grading_data_paths(name: str, tasks_dir: Path = TASKS_DIR) -> list[Path]:
    """One grading data file (`PROBE_PLAN_FILE`, ...) of every task, sorted: what a grader
    that reads it folds into its version."""
    return sorted(tasks_dir.glob(f"*/{name}"))


def list_task_ids(tasks_dir: Path = TASKS_DIR) -> list[str]:
    return sorted(p.parent.name for p in tasks_dir.glob("*/task.yaml"))


def load_tasks(selection: str | None, tasks_dir: Path = TASKS_DIR) -> list[Task]:
    """Tasks named in a comma list, or all of them when `selection` is empty or 'all'."""
    if not selection or selection == "all":
        ids = list_task_ids(tasks_dir)
    else:
        ids = [part.strip() for part in selection.split(",") if part.strip()]
    return [load_task(task_id, tasks_dir) for task_id in ids]
