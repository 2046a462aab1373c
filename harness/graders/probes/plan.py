"""Per-task probe plans (`tasks/<task id>/grading/probes.yaml`) and the accounts they create.

Every task has a plan; a task without one is an error that names the missing file, raised
when the task is loaded (no generic plan is guessed from the app, whose own OpenAPI
document may hide things). What
the plan lists decides which security checks apply to the task; the app's behaviour
never does. Every request a plan makes is aimed at one of the task's contract operations.

Request templates hold `{name}` placeholders: a string that is exactly one placeholder
takes the value itself (an int stays an int), any other string is formatted. Values:
`password` (the probe users'), `email`/`full_name` (while creating an account),
`email_a`, `email_b`, `user_a`, `user_b`, one per created resource (its id), `payload`,
`index` and `fresh_<kind>` (SQL injection bodies: new for each payload), `token`
(refresh), and generated values `<kind>_<slot>` (`identity.py`: email, password, name,
text, code, int, date), drawn afresh for every grade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.core.errors import InputFileError, describe_validation_error
from harness.core.settings import TASKS_DIR
from harness.core.tasks import PROBE_PLAN_FILE, grading_data_paths
from harness.graders.digest import files_digest
from harness.graders.probes.client import Exchange, ProbeClient
from harness.graders.probes.tokens import COMMON_SECRETS_PATH

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class MissingValue(Exception):
    """A template names a value that no earlier step produced (a setup step failed)."""


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill `{name}` placeholders in a JSON-like template."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _value(values, whole.group(1))
        return _PLACEHOLDER.sub(lambda match: str(_value(values, match.group(1))), template)
    if isinstance(template, dict):
        return {key: render(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    return template


def _value(values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        raise MissingValue(name)
    return values[name]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RequestTemplate(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/")
    query: dict[str, str] = {}
    body: Any = None
    actor: Literal["a", "b"] | None = Field(default=None, alias="as")

    @property
    def operation(self) -> str:
        """`METHOD /path/{template}` as the OpenAPI document names it, roughly."""
        return f"{self.method} {_PLACEHOLDER.sub('{id}', self.path)}"


class AccountSpec(_Strict):
    """How to make a user with a known password and, where there is auth, log in."""

    create: RequestTemplate
    login: RequestTemplate | None = None
    refresh: RequestTemplate | None = None
    id_field: str = "id"
    access_token_field: str = "access_token"
    # The field of login's answer that holds a refresh token; None when the contract
    # gives none (then no refresh-token check applies).
    refresh_token_field: str | None = None


class ResourceSpec(_Strict):
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    request: RequestTemplate
    id_field: str = "id"


class VerifySpec(_Strict):
    """A read that shows whether a forbidden change happened."""

    request: RequestTemplate
    status: int | None = None
    field: str | None = None
    equals: Any = None
    contains_id: str | None = None


class IdorProbe(_Strict):
    description: str
    request: RequestTemplate
    verify: VerifySpec


class MassAssignmentProbe(_Strict):
    description: str
    request: RequestTemplate
    injected: dict[str, Any] = Field(min_length=1)
    reread: RequestTemplate | None = None
    admin_row_email: str | None = None


class QueryTarget(_Strict):
    """A search or filter parameter of a contract list operation (GET `path`), probed
    whether or not the app's own OpenAPI document shows it."""

    path: str = Field(pattern=r"^/")
    param: str
    query: dict[str, str] = {}
    actor: Literal["a", "b"] | None = Field(default=None, alias="as")


class SqlInjectionSpec(_Strict):
    bodies: list[RequestTemplate] = []
    queries: list[QueryTarget] = []


class ProbePlan(_Strict):
    task: str
    accounts: AccountSpec | None = None
    resources: list[ResourceSpec] = []
    reads: list[RequestTemplate] = []
    jwt_target: RequestTemplate | None = None
    protected: list[RequestTemplate] = []
    idor: list[IdorProbe] = []
    mass_assignment: list[MassAssignmentProbe] = []
    sql_injection: SqlInjectionSpec = SqlInjectionSpec()


def plan_path(task_id: str, tasks_dir: Path = TASKS_DIR) -> Path:
    return tasks_dir / task_id / PROBE_PLAN_FILE


def load_probe_plan(task_id: str, tasks_dir: Path = TASKS_DIR) -> ProbePlan:
    """The task's plan; a task without one is an error naming the missing file, and a
    malformed one names the file and the field."""
    path = plan_path(task_id, tasks_dir)
    if not path.is_file():
        raise InputFileError(
            path, f"no probe plan for task {task_id!r}: every task needs one (see plan.py)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        plan = ProbePlan.model_validate(data)
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
    except ValidationError as exc:
        raise describe_validation_error(path, exc) from exc
    if plan.task != task_id:
        raise InputFileError(path, f"field 'task': {plan.task!r} is not {task_id!r}")
    return plan


def plans_paths(tasks_dir: Path = TASKS_DIR) -> list[Path]:
    """Every task's probe plan, sorted."""
    return grading_data_paths(PROBE_PLAN_FILE, tasks_dir)


def probe_files(tasks_dir: Path = TASKS_DIR) -> tuple[Path, ...]:
    """Every data file the probing graders read (every task's plan and the well-known JWT
    secrets): data the security grader declares (`data_files`), so a cached grade made
    with other plans is not reused."""
    return (*plans_paths(tasks_dir), COMMON_SECRETS_PATH)


def probes_digest(tasks_dir: Path = TASKS_DIR) -> str:
    """A short hash of `probe_files` (what the security grader's version folds)."""
    return files_digest(probe_files(tasks_dir))


def placeholders(template: Any) -> set[str]:
    """Every `{name}` a JSON-like template uses."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        return set().union(*(placeholders(item) for item in template.values()))
    if isinstance(template, list):
        return set().union(*(placeholders(item) for item in template))
    return set()


@dataclass
class Account:
    """A user the grader created, with whatever tokens logging in gave."""

    email: str
    password: str
    user_id: Any = None
    access_token: str | None = None
    refresh_token: str | None = None
    created: Exchange | None = None
    logged_in: Exchange | None = None


def send_template(
    client: ProbeClient,
    template: RequestTemplate,
    values: Mapping[str, Any],
    tokens: Mapping[str, str | None] | None = None,
) -> Exchange:
    """Render and send one template as its actor (or anonymously)."""
    token = (tokens or {}).get(template.actor) if template.actor else None
    body = render(template.body, values) if template.body is not None else None
    return client.send(
        template.method,
        render(template.path, values),
        json_body=body,
        params={key: str(render(value, values)) for key, value in template.query.items()} or None,
        token=token,
    )


def create_account(
    client: ProbeClient,
    spec: AccountSpec,
    email: str,
    password: str,
    full_name: str,
    values: Mapping[str, Any] | None = None,
    *,
    log_in: bool = True,
) -> Account:
    """Create a user and log in when the spec can (and `log_in`); failures leave fields
    None."""
    account = Account(email=email, password=password)
    own = {**(values or {}), "email": email, "password": password, "full_name": full_name}
    account.created = send_template(client, spec.create, own)
    created = account.created.json()
    if 200 <= account.created.status < 300 and isinstance(created, dict):
        account.user_id = created.get(spec.id_field)
    # 409: the user exists already (a re-grade on the same database); logging in may work.
    failed = account.created.status >= 300 and account.created.status != 409
    if spec.login is None or not log_in or failed:
        return account
    account.logged_in = send_template(client, spec.login, own)
    tokens = account.logged_in.json()
    if account.logged_in.status == 200 and isinstance(tokens, dict):
        access = tokens.get(spec.access_token_field)
        refresh = tokens.get(spec.refresh_token_field) if spec.refresh_token_field else None
        account.access_token = access if isinstance(access, str) else None
        account.refresh_token = refresh if isinstance(refresh, str) else None
    return account
