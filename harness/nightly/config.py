"""`nightly.yaml`: what a nightly run evaluates and when it calls a drop a regression.

Validated on load; every error names the file and the field (`nightly.yaml: field
'thresholds': unknown metric 'speed' ...`). Relative paths in the file (the output
folders and `replay:<dir>` models) are relative to the file's own folder, so a cron job
started anywhere reads the same recordings and writes the same history.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.core.errors import HarnessError, InputFileError, describe_validation_error
from harness.core.prompts import load_agent
from harness.core.settings import DEFAULT_DATABASES, DEFAULT_PROMPT, PROJECT_ROOT
from harness.core.settings import RESULTS_DIR as DEFAULT_RESULTS_DIR
from harness.core.tasks import list_task_ids
from harness.graders.registry import default_grader_order
from harness.providers import GenerationParams
from harness.run.config import EvalConfig

CONFIG_FILE = "nightly.yaml"
PASS_METRIC = "pass"
OVERALL_METRIC = "overall"
# `pass`: paired pass/fail (McNemar's exact test); the rest: a paired score (sign test),
# one per registered grader (harness/graders/registry.py).
METRICS = (PASS_METRIC, OVERALL_METRIC, *default_grader_order())
DEFAULT_THRESHOLDS = {PASS_METRIC: 0.10, OVERALL_METRIC: 0.05}
_NAME_UNSAFE = re.compile(r"[^a-z0-9._@-]+")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"


class Database(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"


class Seeds(BaseModel):
    """`generation`: the provider's sampling seed (`--seed`; null: the provider's own);
    `bootstrap`: the seed of every confidence interval, so a summary is reproducible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: int | None = None
    bootstrap: int = 0


class FlakeCheck(BaseModel):
    """Before a drop is called a regression, re-grade the baseline's own stored answers of
    that task (no model call): what moves on the baseline itself is flaky, not a
    regression. `max_samples` caps the samples re-graded per task (0: all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_samples: int = Field(default=0, ge=0)


class NightlyConfig(BaseModel):
    """The schema of nightly.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The evaluation's name (its baseline's name), when there is one model and one prompt;
    # default: made from both. Name it when the model spec changes but the agent does not
    # (a replay folder per night, a wrapper script moved).
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    models: list[str] = Field(default_factory=lambda: ["reference"], min_length=1)
    prompts: list[str] = Field(default_factory=lambda: [DEFAULT_PROMPT], min_length=1)
    tasks: Literal["all"] | list[str] = "all"
    samples: int = Field(default=1, ge=1)
    databases: list[Database] = Field(
        default_factory=lambda: [Database(kind) for kind in DEFAULT_DATABASES], min_length=1
    )
    runtime: Literal["auto", "local", "docker"] = "auto"
    seeds: Seeds = Seeds()
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int = Field(default=16000, ge=1)
    max_cost: float | None = Field(default=None, gt=0)
    jobs: int = Field(default=0, ge=0)
    # Off: each night asks the model again. On: yesterday's cached answers are reused,
    # so only harness and grader changes can move the scores.
    response_cache: bool = False
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["none", "holm"] = "none"
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    flake_check: FlakeCheck = FlakeCheck()
    max_infra_error_rate: float = Field(default=0.25, ge=0, le=1)
    missing_baseline: Literal["fail", "bless"] = "fail"
    results_dir: Path | None = None
    baseline_dir: Path | None = None
    output_dir: Path | None = None
    history: Path | None = None
    leaderboard: bool = True
    # Not read from the file: where it was read from (relative paths start there).
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("models", "prompts")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        stripped = [value.strip() for value in values]
        if any(not value for value in stripped):
            raise ValueError("an entry is empty")
        repeated = sorted({value for value in stripped if stripped.count(value) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return stripped

    @field_validator("tasks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`tasks: user-crud,blog` reads like `make eval TASKS=...`; `all` stays `all`."""
        if isinstance(value, str) and value.strip() != "all":
            return [part.strip() for part in value.split(",") if part.strip()]
        return value.strip() if isinstance(value, str) else value

    @field_validator("tasks")
    @classmethod
    def _some_tasks(cls, value: Literal["all"] | list[str]) -> Literal["all"] | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("name at least one task, or write `all`")
        return value

    @field_validator("databases")
    @classmethod
    def _distinct_databases(cls, values: list[Database]) -> list[Database]:
        if len(set(values)) != len(values):
            raise ValueError("a database is listed more than once")
        return values

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, values: dict[str, float]) -> dict[str, float]:
        if not values:
            raise ValueError(f"name at least one metric to check (known: {', '.join(METRICS)})")
        for name, threshold in values.items():
            if name not in METRICS:
                raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
            if not 0.0 <= threshold < 1.0:
                raise ValueError(
                    f"{name}: the smallest drop that counts is an absolute change on [0, 1): "
                    f"got {threshold}"
                )
        return values

    @model_validator(mode="after")
    def _name_needs_one_evaluation(self) -> NightlyConfig:
        if self.name is not None and len(self.models) * len(self.prompts) != 1:
            raise ValueError(
                "name: only with one model and one prompt (each evaluation of a matrix is "
                "named after its model and prompt)"
            )
        return self

    # -- resolved values ---------------------------------------------------------------

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    def _path(self, value: Path | None, default: Path) -> Path:
        if value is None:
            return default
        return value if value.is_absolute() else self.base_dir / value

    @property
    def results_path(self) -> Path:
        return self._path(self.results_dir, DEFAULT_RESULTS_DIR)

    @property
    def baseline_path(self) -> Path:
        return self._path(self.baseline_dir, self.results_path / "baselines")

    @property
    def output_path(self) -> Path:
        return self._path(self.output_dir, self.results_path / "nightly")

    @property
    def history_path(self) -> Path:
        return self._path(self.history, self.output_path / "history.jsonl")

    def task_selection(self) -> str:
        return "all" if self.tasks == "all" else ",".join(self.tasks)

    def model_spec(self, model: str) -> str:
        """A `replay:<dir>` relative to this file's folder, made absolute."""
        name, colon, argument = model.partition(":")
        if name == "replay" and colon and argument and not Path(argument).is_absolute():
            return f"replay:{os.path.normpath(self.base_dir / argument)}"
        return model

    def cells(self) -> list[EvalCell]:
        """Every model x prompt version: one evaluation each, with its own baseline."""
        return [
            EvalCell(
                name=self.name or eval_name(model, prompt),
                model=model,
                prompt=prompt,
                field=f"models.{i}, prompts.{j}",
            )
            for i, model in enumerate(self.models)
            for j, prompt in enumerate(self.prompts)
        ]

    def eval_config(self, cell: EvalCell, run_id: str) -> EvalConfig:
        return EvalConfig(
            model=self.model_spec(cell.model),
            prompt=cell.prompt,
            tasks=self.task_selection(),
            samples=self.samples,
            databases=tuple(str(kind) for kind in self.databases),
            runtime=self.runtime,
            params=GenerationParams(
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=self.seeds.generation,
            ),
            results_dir=self.results_path,
            run_id=run_id,
            jobs=self.jobs,
            response_cache=self.response_cache,
            max_cost=self.max_cost,
        )


@dataclass(frozen=True)
class EvalCell:
    """One model x prompt version of the nightly matrix. `name` names its baseline."""

    name: str
    model: str
    prompt: str
    field: str  # where in nightly.yaml it comes from, for error messages


def eval_name(model: str, prompt: str) -> str:
    """A file-safe, stable name for a model x prompt (the baseline's name)."""
    text = _NAME_UNSAFE.sub("-", f"{model}--{prompt}".lower()).strip("-.")
    if len(text) > 80:
        digest = hashlib.sha256(f"{model}--{prompt}".encode()).hexdigest()[:8]
        text = f"{text[:71]}-{digest}"
    return text or "nightly"


def default_config_path() -> Path:
    """nightly.yaml in the current folder, else the project's."""
    here = Path.cwd() / CONFIG_FILE
    return here if here.is_file() else PROJECT_ROOT / CONFIG_FILE


def load_config(path: Path, *, must_exist: bool = True) -> NightlyConfig:
    """Read and validate nightly.yaml; a missing file gives the defaults when allowed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if not must_exist:
            return NightlyConfig(source=path)
        raise InputFileError(path, "no such file (pass --config, or create it)") from exc
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping of fields at the top level")
    if "source" in data:
        raise InputFileError(path, "field 'source': not a setting (unknown field)")
    try:
        config = NightlyConfig.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    _check_references(config, path)
    return config


def _check_references(config: NightlyConfig, path: Path) -> None:
    """Tasks, prompts and replay folders that do not exist fail here, before any work."""
    if isinstance(config.tasks, list):
        known = list_task_ids()
        for index, task in enumerate(config.tasks):
            if task not in known:
                raise InputFileError(
                    path, f"field 'tasks.{index}': no task {task!r} (known: {', '.join(known)})"
                )
    for index, prompt in enumerate(config.prompts):
        try:
            load_agent(prompt)
        except HarnessError as exc:
            raise InputFileError(path, f"field 'prompts.{index}': {exc}") from exc
    for index, model in enumerate(config.models):
        spec = config.model_spec(model)
        if spec.startswith("replay:") and not Path(spec.partition(":")[2]).is_dir():
            raise InputFileError(
                path, f"field 'models.{index}': {model}: no folder {spec.partition(':')[2]}"
            )
