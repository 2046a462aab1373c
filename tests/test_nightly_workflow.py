""".github/workflows/nightly.yml cannot run here, so its syntax is checked against a
model of the parts of GitHub's workflow schema it uses (keys are closed: a typo is an
error), and its content against what the nightly needs: a schedule, an engine, the
database packages, `make nightly` with provider keys from secrets, and the results and
HTML uploaded as artifacts even when the night fails."""

from __future__ import annotations

import re
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.core.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "nightly.yml"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[A-Za-z0-9_.-]+$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
Scalar = str | int | float | bool


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Schedule(Closed):
    cron: str

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(CRON_FIELD.match(field) for field in fields):
            raise ValueError(f"not a 5-field cron expression: {value!r}")
        return value


class DispatchInput(Closed):
    description: str | None = None
    required: bool | None = None
    default: Scalar | None = None
    type: Literal["boolean", "choice", "number", "environment", "string"] | None = None
    options: list[str] | None = None


class WorkflowDispatch(Closed):
    inputs: dict[str, DispatchInput] | None = None


class Triggers(Closed):
    schedule: list[Schedule] | None = Field(default=None, min_length=1)
    workflow_dispatch: WorkflowDispatch | None = None
    push: dict[str, Any] | None = None
    pull_request: dict[str, Any] | None = None


class Concurrency(Closed):
    group: str
    cancel_in_progress: bool | str | None = Field(default=None, alias="cancel-in-progress")


class Step(Closed):
    id: str | None = None
    name: str | None = None
    uses: str | None = None
    run: str | None = None
    with_: dict[str, Scalar] | None = Field(default=None, alias="with")
    env: dict[str, Scalar] | None = None
    if_: str | bool | None = Field(default=None, alias="if")
    shell: str | None = None
    continue_on_error: bool | str | None = Field(default=None, alias="continue-on-error")
    timeout_minutes: int | str | None = Field(default=None, alias="timeout-minutes")
    working_directory: str | None = Field(default=None, alias="working-directory")

    @model_validator(mode="after")
    def _uses_or_run(self) -> Step:
        if (self.uses is None) == (self.run is None):
            raise ValueError("a step has exactly one of `uses` and `run`")
        if self.uses is not None and not ACTION.match(self.uses):
            raise ValueError(f"`uses: {self.uses}` is not owner/repo[/path]@ref")
        return self


class Job(Closed):
    name: str | None = None
    runs_on: str | list[str] = Field(alias="runs-on")
    timeout_minutes: int | None = Field(default=None, alias="timeout-minutes")
    env: dict[str, Scalar] | None = None
    permissions: dict[str, Literal["read", "write", "none"]] | None = None
    if_: str | None = Field(default=None, alias="if")
    needs: str | list[str] | None = None
    steps: list[Step] = Field(min_length=1)


class Workflow(Closed):
    name: str
    on: Triggers
    permissions: dict[str, Literal["read", "write", "none"]] | None = None
    concurrency: Concurrency | None = None
    env: dict[str, Scalar] | None = None
    jobs: dict[str, Job] = Field(min_length=1)


def _load() -> tuple[str, dict[Any, Any]]:
    text = WORKFLOW.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as the boolean true; GitHub reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return text, data


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    return Workflow.model_validate(_load()[1])


def _steps(workflow: Workflow) -> list[Step]:
    return [step for job in workflow.jobs.values() for step in job.steps]


def test_the_workflow_matches_the_schema(workflow: Workflow) -> None:
    text, _ = _load()
    expressions = EXPRESSION.findall(text)
    assert len(expressions) == text.count("${{")  # every expression is closed
    for expression in expressions:
        assert expression.strip() and "${{" not in expression
    assert workflow.permissions == {"contents": "read"}


def test_the_schema_model_rejects_what_github_would(workflow: Workflow) -> None:
    _, data = _load()
    job = next(iter(data["jobs"].values()))
    bad: list[dict[Any, Any]] = [
        {**data, "jobz": data["jobs"]},
        {**data, "on": {"schedule": [{"cron": "every night"}]}},
        {**data, "jobs": {"nightly": {**job, "runs_on": job["runs-on"]}}},
        {**data, "jobs": {"nightly": {**job, "steps": [{"name": "neither uses nor run"}]}}},
        {**data, "jobs": {"nightly": {**job, "steps": [{"uses": "actions/checkout"}]}}},
    ]
    for broken in bad:
        with pytest.raises(ValidationError):
            Workflow.model_validate(broken)


def test_it_runs_every_night_and_by_hand(workflow: Workflow) -> None:
    assert workflow.on.schedule and workflow.on.workflow_dispatch is not None
    inputs = workflow.on.workflow_dispatch.inputs or {}
    assert inputs["bless"].type == "boolean"


def test_it_sets_up_the_engine_and_the_databases(workflow: Workflow) -> None:
    runs = "\n".join(step.run or "" for step in _steps(workflow))
    assert "docker info" in runs and "docker.io" in runs
    assert "scripts/install-system-deps.sh" in runs
    uses = [step.uses for step in _steps(workflow)]
    assert "actions/checkout@v4" in uses and "actions/setup-python@v5" in uses


def test_it_runs_make_nightly_with_provider_keys_from_secrets(workflow: Workflow) -> None:
    [job] = workflow.jobs.values()
    nightly = next(step for step in job.steps if step.run and "make nightly" in step.run)
    env = {**(job.env or {}), **(nightly.env or {})}
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        assert env[key] == f"${{{{ secrets.{key} }}}}"
    assert "nightly.json" in (nightly.run or "")  # the harness's own exit code, not make's
    assert (job.timeout_minutes or 0) >= 60


def test_it_uploads_results_and_html_even_when_the_night_fails(workflow: Workflow) -> None:
    uploads = [s for s in _steps(workflow) if (s.uses or "").startswith("actions/upload-artifact@")]
    paths = "\n".join(str((step.with_ or {}).get("path", "")) for step in uploads)
    assert "results/" in paths and "results/leaderboard.html" in paths
    assert "results/nightly/latest/" in paths
    assert all(step.if_ == "always()" for step in uploads)
    saved = [s for s in _steps(workflow) if (s.uses or "").startswith("actions/cache/save@")]
    assert saved and saved[0].if_ == "always()"
    assert "results/baselines" in str((saved[0].with_ or {}).get("path"))
