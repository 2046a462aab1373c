"""Per-task probe plans (`graders/probes/<task id>.yaml`) and the accounts they create.

Request templates hold `{name}` placeholders: a string that is exactly one placeholder
takes the value itself (an int stays an int), any other string is formatted. Values:
`marker`, `password`, `email`/`full_name` (while creating an account), `email_a`,
`email_b`, `user_a`, `user_b`, one per created resource (its id), `payload` and `index`
(SQL injection), `token` (refresh).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graders.probes.client import Exchange, ProbeClient
from harness.errors import InputFileError, describe_validation_error

PLANS_DIR = Path(__file__).resolve().parent
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
    refresh_token_field: str = "refresh_token"


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
    path: str = Field(pattern=r"^/")
    param: str
    query: dict[str, str] = {}
    actor: Literal["a", "b"] | None = Field(default=None, alias="as")


class SqlInjectionSpec(_Strict):
    bodies: list[RequestTemplate] = []
    queries: list[QueryTarget] = []
    discover_queries: bool = True


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


def load_probe_plan(task_id: str, openapi_paths: Mapping[str, Any] | None = None) -> ProbePlan:
    """The task's plan; without one, a generic plan from what the app's paths offer."""
    path = PLANS_DIR / f"{task_id}.yaml"
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return ProbePlan.model_validate(data)
        except yaml.YAMLError as exc:
            raise InputFileError(path, f"invalid YAML: {exc}") from exc
        except ValidationError as exc:
            raise describe_validation_error(path, exc) from exc
    return ProbePlan(task=task_id, accounts=_default_accounts(openapi_paths or {}))


def _default_accounts(paths: Mapping[str, Any]) -> AccountSpec | None:
    """The jwt-auth contract's register/login pair, when the app serves both."""
    if "/auth/register" not in paths or "/auth/login" not in paths:
        return None
    credentials = {"email": "{email}", "password": "{password}"}
    return AccountSpec(
        create=RequestTemplate(
            method="POST",
            path="/auth/register",
            body={**credentials, "full_name": "{full_name}"},
        ),
        login=RequestTemplate(method="POST", path="/auth/login", body=credentials),
    )


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
) -> Account:
    """Create a user and log in when the spec can; failures leave fields None."""
    account = Account(email=email, password=password)
    own = {**(values or {}), "email": email, "password": password, "full_name": full_name}
    account.created = send_template(client, spec.create, own)
    created = account.created.json()
    if 200 <= account.created.status < 300 and isinstance(created, dict):
        account.user_id = created.get(spec.id_field)
    # 409: the user exists already (a re-grade on the same database); logging in may work.
    if spec.login is None or (account.created.status >= 300 and account.created.status != 409):
        return account
    account.logged_in = send_template(client, spec.login, own)
    tokens = account.logged_in.json()
    if account.logged_in.status == 200 and isinstance(tokens, dict):
        access = tokens.get(spec.access_token_field)
        refresh = tokens.get(spec.refresh_token_field)
        account.access_token = access if isinstance(access, str) else None
        account.refresh_token = refresh if isinstance(refresh, str) else None
    return account
