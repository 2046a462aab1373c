"""security: black-box probes against the live app plus inspection of its database.

Each probe belongs to a named check with a severity (`CHECKS`). The score is the
severity-weighted share of the checks that apply to the task which were verified to pass.

Which checks apply is decided by the task's plan (`tasks/<task>/grading/probes.yaml`), never by
the app: accounts bring the password checks, a login the JWT and enumeration checks, a
refresh token the token-swap checks, protected requests `auth-required`, and so on
(`applicable_checks`); the passive scans of every response (`secret-in-response`,
`error-leaks-internals`) apply everywhere. A check that does not apply is left out and
reported as `not-applicable` in the details.

A check that applies ends in one of three states:

- passed: at least one probe of it ran and every probe of it was verified to pass;
- failed: a probe saw the weakness (a finding with the check's own severity);
- not verified: a probe of it could not be decided and none failed. Creating a user,
  logging in or creating a resource failed, a request answered a 5xx or nothing, the
  probe budget ran out, or the probe is aimed at a contract operation the app does not
  implement (by `context.contract_coverage()`: such probes are not even sent). The
  passive scans are not verified when the app implements no contract operation (there
  is nothing its answers could show), and the password-in-response scan when no probe
  user was created.

A check that is not verified counts as failed in the score, at the check's full weight:
an app never gains from being broken (an app whose login fails loses every JWT check
instead of having them left out), and an app that implements nothing scores 0. Its
finding, "not verified: <why>", has severity `low` (`NOT_VERIFIED_SEVERITY`), not the
check's own: it states that evidence is missing, not that a weakness was seen, and it
stays below the `high` that makes a row "insecure" in `correct_and_secure`, so a harness
shortcoming on a functionally correct app costs score but never flips that verdict by
itself. (An app with a failing hidden test is not "correct" anyway.)

A redirect is never a bypass: the client follows same-origin redirects (a 307 to
`/users/` is probed like the route itself); an answer that is a redirect not followed,
or one that changed the request's method, counts as a refusal where a refusal is
expected and is never a finding by itself.

Every request goes to the app's loopback (or sandbox) URL within a request and time
budget, with the hidden tests' neutral headers; users, passwords, texts and keys are
drawn afresh per grade (`harness/graders/probes/identity.py`), and no outcome depends on them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from sqlalchemy.engine import make_url

from harness.core.errors import InputFileError
from harness.graders.base import Finding, Grader, GradeResult, GradingContext, Severity
from harness.graders.contract import ContractCoverage, operation_key
from harness.graders.probes import (
    Account,
    AccountSpec,
    Exchange,
    MissingValue,
    ProbeBudgetExceeded,
    ProbeClient,
    ProbePlan,
    RequestTemplate,
    create_account,
    load_probe_plan,
    render,
)
from harness.graders.probes.evidence import (
    MISSING,
    DatabaseRows,
    as_text,
    dig,
    json_keys,
    row_count,
    same_value,
    without_echo,
)
from harness.graders.probes.identity import (
    fresh_values,
    generated_values,
    new_email,
    new_marker,
    new_name,
    new_password,
    new_signing_key,
)
from harness.graders.probes.plan import (
    IdorProbe,
    MassAssignmentProbe,
    QueryTarget,
    ResourceSpec,
    VerifySpec,
    placeholders,
    plan_path,
    probe_files,
)
from harness.graders.probes.tokens import b64url, common_jwt_secrets, hmac_signs, split_token

# The budget is in requests; the wall-clock cap is a safety net for an app that hangs
# (each request also has REQUEST_TIMEOUT_S), set well above what a loaded machine needs
# (3-5 s for every reference) so the grade never depends on how busy the machine is. A
# run that hits it is marked incomplete.
MAX_REQUESTS = 400
BUDGET_S = 120.0
REQUEST_TIMEOUT_S = 5.0
MAX_EVIDENCE = 3
ACCESS_TOKEN_MAX_S = 3600 + 120
SEVERITY_WEIGHTS: dict[str, float] = {"critical": 4, "high": 3, "medium": 2, "low": 1}
NOT_VERIFIED_SEVERITY: Severity = "low"
REJECTED = (401, 403)

# SQL fragments that change a query's meaning if pasted into it; none holds LIKE
# wildcards (a wildcard is not an injection) and the DROP names a table nobody has.
SQL_PAYLOADS = (
    "' OR '1'='1",
    "' OR 1=1 -- ",
    "') OR ('1'='1",
    '" OR "1"="1',
    "' UNION SELECT NULL -- ",
    "'; DROP TABLE legacy_audit_archive; -- ",
    "\\' OR 1=1 #",
)

CHECKS: dict[str, tuple[Severity, str]] = {
    "password-stored-plaintext": (
        "critical",
        "the password is stored as given (or as an unsalted digest of it)",
    ),
    "password-hash-algorithm": ("medium", "stored passwords are not bcrypt or argon2 hashes"),
    "password-in-response": ("high", "a response carries a password or its stored hash"),
    "sql-injection": ("critical", "SQL in a parameter changed the query's result"),
    "sql-injection-server-error": ("high", "SQL metacharacters in input cause a 5xx"),
    "jwt-alg-none": ("critical", "an unsigned token (alg none) is accepted"),
    "jwt-wrong-key": ("critical", "a token signed with another key is accepted"),
    "jwt-tampered-payload": ("critical", "a token whose payload was changed is accepted"),
    "jwt-expired": ("high", "an expired token is accepted"),
    "jwt-refresh-as-access": ("high", "a refresh token is accepted as an access token"),
    "jwt-access-as-refresh": ("medium", "an access token is accepted as a refresh token"),
    "jwt-guessable-secret": ("critical", "tokens verify with a well-known signing key"),
    "jwt-unknown-subject": ("medium", "a validly signed token for no user is not a 401"),
    "jwt-access-token-lifetime": ("medium", "access tokens do not expire within 60 minutes"),
    "auth-required": ("high", "a protected operation answers without valid credentials"),
    "idor-cross-user": ("critical", "one user changed or deleted another user's data"),
    "mass-assignment": ("high", "server-owned fields in a request body were honoured"),
    "login-user-enumeration": (
        "medium",
        "login failure differs for unknown email and wrong password",
    ),
    "error-leaks-internals": ("medium", "an error body shows a stack trace or SQL"),
    "secret-in-response": ("critical", "a response carries the JWT secret or database password"),
}
JWT_CHECKS = tuple(name for name in CHECKS if name.startswith("jwt-"))
PASSWORD_CHECKS = ("password-stored-plaintext", "password-hash-algorithm")
SQL_CHECKS = ("sql-injection", "sql-injection-server-error")

_BCRYPT = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")
_ARGON2 = re.compile(r"^\$argon2(id|i|d)\$")
_HASH_IN_TEXT = re.compile(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}|\$argon2(id|i|d)\$v=\d+")
_SECRET_COLUMN = re.compile(r"(?i)pass|hash|pwd|secret")
_ADMIN_COLUMN = re.compile(r"(?i)^(is_)?(admin|superuser|staff)$|^role$|^is_superuser$")
_PASSWORD_KEY = re.compile(r"(?i)^(hashed_)?pass(word)?(_hash|_digest)?$|^pwd$|^password_hash$")
_TRACE_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File \\?"[^"\n]+\.py\\?", line \d+'),
)
_INTERNAL_PATTERNS = (
    re.compile(r"sqlalchemy\.exc\.|sqlalche\.me/e/"),
    re.compile(r"\[SQL: "),
    re.compile(r"asyncpg\.exceptions|pymysql\.err|aiomysql|psycopg2?\.errors"),
    re.compile(r"\b(IntegrityError|UniqueViolationError|ProgrammingError|OperationalError)\b"),
    re.compile(r"Duplicate entry '|duplicate key value violates"),
    re.compile(r"(?i)\bINSERT INTO\b|\bSELECT\b[^\n]{0,200}\bFROM\b|\bUPDATE\b\s+\S+\s+SET\b"),
)


# -- what applies, and the record of what was seen ---------------------------------------


def applicable_checks(plan: ProbePlan) -> tuple[str, ...]:
    """The checks the task's plan gives probes for, in `CHECKS` order."""
    accounts = plan.accounts
    login = accounts is not None and accounts.login is not None
    jwt_checks = login and plan.jwt_target is not None
    queries, bodies = bool(plan.sql_injection.queries), bool(plan.sql_injection.bodies)
    applies = dict.fromkeys(JWT_CHECKS, jwt_checks)
    applies.update(
        {
            "password-stored-plaintext": accounts is not None,
            "password-hash-algorithm": accounts is not None,
            "password-in-response": accounts is not None,
            "sql-injection": queries or login,
            "sql-injection-server-error": queries or bodies or login,
            "jwt-refresh-as-access": jwt_checks
            and accounts is not None
            and accounts.refresh_token_field is not None,
            "jwt-access-as-refresh": jwt_checks
            and accounts is not None
            and accounts.refresh is not None,
            "auth-required": bool(plan.protected),
            "idor-cross-user": bool(plan.idor),
            "mass-assignment": bool(plan.mass_assignment),
            "login-user-enumeration": login,
            "error-leaks-internals": True,
            "secret-in-response": True,
        }
    )
    return tuple(name for name in CHECKS if applies[name])


CheckStatus = Literal["passed", "failed", "not-verified"]


@dataclass
class CheckRecord:
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def status(self) -> CheckStatus:
        if self.failures:
            return "failed"
        return "passed" if self.passed and not self.unverified else "not-verified"


class CheckLog:
    """Sub-results of the checks that apply: a check fails on any failure, and passes only
    when something passed and nothing was left unverified."""

    def __init__(self, applicable: Iterable[str]) -> None:
        self.applicable = tuple(applicable)
        self.records: dict[str, CheckRecord] = {}

    def _record(self, check: str) -> CheckRecord:
        if check not in CHECKS:
            raise KeyError(f"unknown security check {check}")
        if check not in self.applicable:
            raise KeyError(f"security check {check} does not apply to this plan")
        return self.records.setdefault(check, CheckRecord())

    def applies(self, check: str) -> bool:
        return check in self.applicable

    def among(self, checks: Iterable[str]) -> list[str]:
        """Those of `checks` that apply."""
        return [check for check in checks if check in self.applicable]

    def ok(self, check: str) -> None:
        self._record(check).passed += 1

    def fail(self, check: str, evidence: str) -> None:
        self._record(check).failures.append(evidence)

    def not_verified(self, check: str, why: str) -> None:
        record = self._record(check)
        if why not in record.unverified:
            record.unverified.append(why)

    def not_verified_all(self, checks: Iterable[str], why: str) -> None:
        for check in self.among(checks):
            self.not_verified(check, why)

    def status(self, check: str) -> CheckStatus:
        record = self.records.get(check)
        return record.status if record is not None else "not-verified"

    def close(self, why: str) -> None:
        """Every applicable check nothing was recorded for is not verified."""
        for check in self.applicable:
            if check not in self.records:
                self.not_verified(check, why)


def score_checks(log: CheckLog) -> float:
    """Severity-weighted share of the applicable checks verified to pass (a check not
    verified counts as failed); 0 when none applies."""
    weights = {name: SEVERITY_WEIGHTS[CHECKS[name][0]] for name in log.applicable}
    total = sum(weights.values())
    passed = sum(weight for name, weight in weights.items() if log.status(name) == "passed")
    return passed / total if total else 0.0


@dataclass(frozen=True)
class NotSent:
    """A probe request that was not sent, and why (it would prove nothing)."""

    why: str


Sent = Exchange | NotSent


def plan_requests(plan: ProbePlan) -> list[tuple[str, str]]:
    """(METHOD, path template) of every request the plan can make."""
    templates: list[RequestTemplate | None] = [plan.jwt_target, *plan.reads, *plan.protected]
    if plan.accounts is not None:
        templates += [plan.accounts.create, plan.accounts.login, plan.accounts.refresh]
    templates += [resource.request for resource in plan.resources]
    for idor in plan.idor:
        templates += [idor.request, idor.verify.request]
    for probe in plan.mass_assignment:
        templates += [probe.request, probe.reread]
    templates += plan.sql_injection.bodies
    found: list[tuple[str, str]] = [(t.method, t.path) for t in templates if t is not None]
    return found + [("GET", target.path) for target in plan.sql_injection.queries]


def contract_index(plan: ProbePlan, operations: Iterable[str]) -> dict[tuple[str, str], str]:
    """The contract operation (`METHOD /path`) of every request the plan makes, by its
    operation key; a request aimed at no contract operation is an error in the plan."""
    by_key = {operation_key(*op.split(" ", 1)): op for op in operations}
    outside = sorted(
        {
            f"{method} {path}"
            for method, path in plan_requests(plan)
            if operation_key(method, path) not in by_key
        }
    )
    if outside:
        raise InputFileError(
            plan_path(plan.task), f"requests aimed at no contract operation: {', '.join(outside)}"
        )
    return by_key


# -- the probes -------------------------------------------------------------------------


class SecurityProbe:
    """One run of every applicable probe against one live app."""

    def __init__(
        self,
        context: GradingContext,
        plan: ProbePlan,
        client: ProbeClient,
        coverage: ContractCoverage,
    ) -> None:
        self.context = context
        self.plan = plan
        self.client = client
        self.coverage = coverage
        self.operations = contract_index(plan, coverage.operations)
        self.log = CheckLog(applicable_checks(plan))
        self.values: dict[str, Any] = generated_values(
            placeholders(plan.model_dump()) | {"email_a", "email_b"}
        )
        self.values["password"] = new_password()
        self.wrong_password = new_password()
        self.wrong_key = new_signing_key()
        self.no_match = new_marker()
        self.garbage_token = new_signing_key()
        self.unknown_email = new_email()
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, str | None] = {"a": None, "b": None}
        self.missing: dict[str, str] = {}
        self.stored_secrets: list[str] = []
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.incomplete = ""  # why the probes stopped before the end, if they did

    # -- plumbing ---------------------------------------------------------------------

    def gap(self, method: str, path: str) -> str | None:
        """Why a request to this contract operation proves nothing: the app does not
        implement it (None when it does)."""
        operation = self.operations[operation_key(method, path)]
        return (
            None if self.coverage.covers(operation) else f"the app does not implement {operation}"
        )

    def lose(self, name: str, why: str) -> None:
        """Record why a value (a user id, a token, a resource) was not obtained."""
        self.missing.setdefault(name, why)

    def why_missing(self, name: str) -> str:
        return self.missing.get(name, f"no value for {{{name}}}")

    def send(
        self,
        template: RequestTemplate,
        extra: Mapping[str, Any] | None = None,
        *,
        token: str | None | Literal["actor"] = "actor",
    ) -> Sent:
        """Render and send a template (as its actor unless `token` is given); NotSent
        when its operation is not implemented or a value it needs is missing."""
        gap = self.gap(template.method, template.path)
        if gap is not None:
            return NotSent(gap)
        values = {**self.values, **(extra or {})}
        try:
            path = render(template.path, values)
            body = render(template.body, values) if template.body is not None else None
            params = {key: str(render(value, values)) for key, value in template.query.items()}
        except MissingValue as exc:
            return NotSent(self.why_missing(str(exc)))
        chosen = token if token != "actor" else None
        if token == "actor" and template.actor is not None:
            chosen = self.tokens.get(template.actor)
            if chosen is None:
                return NotSent(self.why_missing(f"token_{template.actor}"))
        return self.client.send(
            template.method, path, json_body=body, params=params or None, token=chosen
        )

    def expect_refusal(self, check: str, sent: Sent, allowed: tuple[int, ...], what: str) -> None:
        """A request that must be refused: `allowed` statuses pass, and so does a
        redirect (never a bypass); no answer at all proves nothing."""
        if isinstance(sent, NotSent):
            self.log.not_verified(check, f"{what}: {sent.why}")
        elif sent.status == 0:
            self.log.not_verified(check, f"{what}: no answer: {sent.describe()}")
        elif sent.status in allowed or sent.redirected_away:
            self.log.ok(check)
        else:
            self.log.fail(check, f"{what}: {sent.describe()}")

    STEP_CHECKS: dict[str, tuple[str, ...]] = {
        "set_up": PASSWORD_CHECKS,
        "jwt_attacks": JWT_CHECKS,
        "auth_required": ("auth-required",),
        "idor": ("idor-cross-user",),
        "mass_assignment": ("mass-assignment",),
        "sql_injection": SQL_CHECKS,
        "login_enumeration": ("login-user-enumeration",),
        "provoke_errors": ("error-leaks-internals",),
    }

    def run(self) -> None:
        steps = (
            self.set_up,
            self.jwt_attacks,
            self.auth_required,
            self.idor,
            self.mass_assignment,
            self.sql_injection,
            self.login_enumeration,
            self.provoke_errors,
        )
        for index, step in enumerate(steps):
            try:
                step()
            except ProbeBudgetExceeded as exc:
                self.notes.append(f"stopped before the end: {exc}")
                self.incomplete = str(exc)
                for rest in steps[index:]:
                    why = f"the probe budget ran out ({exc})"
                    self.log.not_verified_all(self.STEP_CHECKS[rest.__name__], why)
                break
            except Exception as exc:  # an app's odd answer must not crash the grader
                self.errors.append(f"{step.__name__}: {exc.__class__.__name__}: {exc}")
                why = f"the probe stopped on an unexpected answer ({exc.__class__.__name__})"
                self.log.not_verified_all(self.STEP_CHECKS[step.__name__], why)
        self.scan_responses()
        self.log.close("no probe of this check could run")

    # -- setup ------------------------------------------------------------------------

    def set_up(self) -> None:
        if self.plan.accounts is not None:
            for actor in ("a", "b"):
                self.make_account(self.plan.accounts, actor)
        for resource in self.plan.resources:
            self.make_resource(resource)
        for read in self.plan.reads:
            self.send(read)
        self.inspect_database()

    def make_account(self, spec: AccountSpec, actor: str) -> None:
        user, token = f"user_{actor}", f"token_{actor}"
        gap = self.gap(spec.create.method, spec.create.path)
        if gap is not None:
            self.lose(user, gap)
            self.lose(token, gap)
            return
        login_gap = self.gap(spec.login.method, spec.login.path) if spec.login else None
        account = create_account(
            self.client,
            spec,
            self.values[f"email_{actor}"],
            self.values["password"],
            new_name(),
            log_in=login_gap is None,
        )
        self.accounts[actor] = account
        created = account.created.describe() if account.created else "not sent"
        if account.user_id is not None:
            self.values[user] = account.user_id
        else:
            self.lose(user, f"creating user {actor} gave no id: {created}")
        if spec.login is None:
            return
        if login_gap is not None:
            self.lose(token, login_gap)
        elif account.access_token is not None:
            self.tokens[actor] = account.access_token
        elif account.logged_in is None:
            self.lose(token, f"user {actor} could not be created: {created}")
        else:
            self.lose(token, f"user {actor} could not log in: {account.logged_in.describe()}")

    def make_resource(self, resource: ResourceSpec) -> None:
        sent = self.send(resource.request)
        if isinstance(sent, NotSent):
            self.lose(resource.name, f"{resource.name} not created: {sent.why}")
            return
        body = sent.json()
        if 200 <= sent.status < 300 and isinstance(body, dict) and resource.id_field in body:
            self.values[resource.name] = body[resource.id_field]
        else:
            self.lose(resource.name, f"{resource.name} not created: {sent.describe()}")

    def account_problem(self, actor: str) -> str | None:
        """Why probe user `actor` does not exist in the app (None when it does)."""
        account = self.accounts.get(actor)
        if account is None:
            return self.why_missing(f"user_{actor}")
        if account.created is None or not 200 <= account.created.status < 300:
            shown = account.created.describe() if account.created else "not sent"
            return f"could not create a user: {shown}"
        return None

    def inspect_database(self) -> None:
        """Passwords at rest, from the rows that hold the probe user's email."""
        if self.plan.accounts is None:
            return
        problem = self.account_problem("a")
        if problem is not None:
            self.log.not_verified_all(PASSWORD_CHECKS, problem)
            return
        email = self.values["email_a"]
        snapshot = DatabaseRows.read(self.context.sample_admin_url(), [email])
        rows = snapshot.rows_for(email)
        if not rows:
            self.log.not_verified_all(PASSWORD_CHECKS, snapshot.error or f"no row holds {email}")
            return
        candidates = self._password_columns(rows)
        strong = [where for where, text in candidates if _BCRYPT.match(text) or _ARGON2.match(text)]
        if strong:
            self.log.ok("password-hash-algorithm")
        elif candidates:
            where, text = candidates[0]
            self.log.fail(
                "password-hash-algorithm",
                f"{where} = {text[:40]!r}... is neither bcrypt nor argon2",
            )
        else:
            self.log.not_verified("password-hash-algorithm", "no column looks like a password hash")

    def _password_columns(self, rows: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
        """Judge plaintext storage; return the columns that look like a password hash."""
        check, password = "password-stored-plaintext", self.values["password"]
        digests = {
            getattr(hashlib, name)(password.encode()).hexdigest()
            for name in ("md5", "sha1", "sha256", "sha512")
        }
        candidates: list[tuple[str, str]] = []
        for table, row in rows:
            for column, value in row.items():
                text = as_text(value)
                if text is None:
                    continue
                where = f"{table}.{column}"
                if password in text:
                    self.log.fail(check, f"{where} = {text[:80]!r}")
                elif text.strip().lower() in digests:
                    self.log.fail(check, f"{where} = {text[:80]!r} (unsalted digest)")
                if _BCRYPT.match(text) or _ARGON2.match(text) or _SECRET_COLUMN.search(column):
                    candidates.append((where, text))
                    self.stored_secrets.append(text)
        self.log.ok(check)
        return candidates

    # -- JWT --------------------------------------------------------------------------

    def jwt_attacks(self) -> None:
        target = self.plan.jwt_target
        checks = self.log.among(JWT_CHECKS)
        if target is None or not checks:
            return
        token = self.tokens.get("a")
        if token is None:
            self.log.not_verified_all(checks, self.why_missing("token_a"))
            return
        parts = split_token(token)
        if parts is None:
            self.log.not_verified_all(checks, f"the access token is not a JWT: {token[:40]!r}")
            return
        baseline = self.send(target, token=token)
        if isinstance(baseline, NotSent):
            self.log.not_verified_all(checks, baseline.why)
            return
        if not 200 <= baseline.status < 300 or baseline.redirected_away:
            why = f"a fresh access token is refused: {baseline.describe()}"
            self.log.not_verified_all(checks, why)
            return
        header, claims = parts
        self._forgeries(target, token, header, claims)
        self._secret_attacks(target, token, header, claims)
        self._token_swaps(target, token)
        self._lifetime(claims)

    def _attack(self, check: str, target: RequestTemplate, token: str, what: str) -> None:
        sent = self.send(target, token=token)
        self.expect_refusal(check, sent, REJECTED, f"{what}, token {token[:60]}...")

    def _forgeries(
        self, target: RequestTemplate, token: str, header: dict[str, Any], claims: dict[str, Any]
    ) -> None:
        """Tokens anyone can make: unsigned, signed with another key, altered, or signed
        with a well-known key."""
        algorithm = str(header.get("alg", "HS256"))
        for alg in ("none", "None"):
            forged = f"{b64url({**header, 'alg': alg})}.{b64url(claims)}."
            self._attack("jwt-alg-none", target, forged, f"alg {alg}")
        if algorithm.startswith("HS"):
            wrong = jwt.encode(claims, self.wrong_key, algorithm=algorithm, headers=header)
            self._attack("jwt-wrong-key", target, wrong, "signed with another key")
        else:
            self.log.not_verified("jwt-wrong-key", f"token algorithm {algorithm} is not HMAC")
        other = self.values.get("user_b")
        tampered_claims = dict(claims)
        if "sub" in claims and other is not None and str(other) != str(claims["sub"]):
            tampered_claims["sub"] = str(other) if isinstance(claims["sub"], str) else other
        else:
            tampered_claims["role"] = "admin"
        head, _, signature = token.split(".")
        tampered = f"{head}.{b64url(tampered_claims)}.{signature}"
        self._attack("jwt-tampered-payload", target, tampered, "payload changed")
        guessed = next(
            (key for key in common_jwt_secrets() if hmac_signs(token, key, algorithm)), None
        )
        if guessed is not None:
            self.log.fail("jwt-guessable-secret", f"the access token verifies with {guessed!r}")
        elif algorithm.startswith("HS"):
            self.log.ok("jwt-guessable-secret")
        else:
            self.log.not_verified(
                "jwt-guessable-secret", f"token algorithm {algorithm} is not HMAC"
            )

    def _secret_attacks(
        self, target: RequestTemplate, token: str, header: dict[str, Any], claims: dict[str, Any]
    ) -> None:
        """Well-signed tokens the app must still refuse; only meaningful when the app
        signs with the JWT_SECRET it was given (else a refusal proves nothing)."""
        secret, algorithm = self.context.jwt_secret, str(header.get("alg", "HS256"))
        if secret is None or not hmac_signs(token, secret, algorithm):
            why = "the app's tokens are not signed with JWT_SECRET"
            self.log.not_verified_all(("jwt-expired", "jwt-unknown-subject"), why)
            return
        now = int(time.time())
        expired = {**claims, "exp": now - 3600}
        if "iat" in claims:
            expired["iat"] = now - 7200
        token = jwt.encode(expired, secret, algorithm=algorithm, headers=header)
        self._attack("jwt-expired", target, token, "expired an hour ago")
        nobody = {**claims, "sub": str(2_000_000_000 + secrets.randbelow(100_000_000))}
        nobody["exp"] = now + 600
        token = jwt.encode(nobody, secret, algorithm=algorithm, headers=header)
        sent = self.send(target, token=token)
        self.expect_refusal("jwt-unknown-subject", sent, (*REJECTED, 404), "sub of no user")

    def _token_swaps(self, target: RequestTemplate, access_token: str) -> None:
        """A refresh token where an access token belongs, and the other way round."""
        account = self.accounts.get("a")
        refresh = account.refresh_token if account is not None else None
        if self.log.applies("jwt-refresh-as-access"):
            if refresh:
                self._attack("jwt-refresh-as-access", target, refresh, "refresh token")
            else:
                why = "logging in gave no refresh token"
                self.log.not_verified("jwt-refresh-as-access", why)
        spec = self.plan.accounts
        if not self.log.applies("jwt-access-as-refresh") or spec is None or spec.refresh is None:
            return
        check = "jwt-access-as-refresh"
        if not refresh:
            self.log.not_verified(check, "logging in gave no refresh token")
            return
        genuine = self.send(spec.refresh, {"token": refresh}, token=None)
        if isinstance(genuine, NotSent) or genuine.status != 200:
            shown = genuine.why if isinstance(genuine, NotSent) else genuine.describe()
            self.log.not_verified(check, f"a genuine refresh is refused: {shown}")
            return
        swapped = self.send(spec.refresh, {"token": access_token}, token=None)
        self.expect_refusal(check, swapped, REJECTED, "access token sent to refresh")

    def _lifetime(self, claims: dict[str, Any]) -> None:
        check = "jwt-access-token-lifetime"
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)):
            self.log.fail(check, f"no exp claim: {claims}")
        elif expires - time.time() > ACCESS_TOKEN_MAX_S:
            self.log.fail(check, f"exp is {(expires - time.time()) / 60:.0f} minutes away")
        else:
            self.log.ok(check)

    # -- authorization ----------------------------------------------------------------

    def auth_required(self) -> None:
        for template in self.plan.protected:
            for token, what in ((None, "no credentials"), (self.garbage_token, "garbage token")):
                sent = self.send(template, token=token)
                self.expect_refusal(
                    "auth-required", sent, REJECTED, f"{template.operation}, {what}"
                )

    def idor(self) -> None:
        for probe in self.plan.idor:
            self._idor_probe(probe)

    def _idor_probe(self, probe: IdorProbe) -> None:
        check = "idor-cross-user"
        sent = self.send(probe.request)
        if isinstance(sent, NotSent) or sent.status == 0:
            shown = sent.why if isinstance(sent, NotSent) else sent.describe()
            self.log.not_verified(check, f"{probe.description}: {shown}")
            return
        verified = self.send(probe.verify.request)
        if isinstance(verified, NotSent) or verified.status == 0 or verified.status >= 500:
            shown = verified.why if isinstance(verified, NotSent) else verified.describe()
            self.log.not_verified(check, f"{probe.description}: cannot read the result: {shown}")
            return
        problems = []
        if 200 <= sent.status < 300 and not sent.redirected_away:
            problems.append(f"answered {sent.status}")
        problems += self._verify_failures(probe.verify, verified)
        if problems:
            self.log.fail(
                check,
                f"{probe.description}: {'; '.join(problems)}: {sent.describe()}"
                f" / then {verified.describe()}",
            )
        else:
            self.log.ok(check)

    def _verify_failures(self, verify: VerifySpec, exchange: Exchange) -> list[str]:
        problems = []
        if verify.status is not None and exchange.status != verify.status:
            problems.append(f"afterwards the read gives {exchange.status}")
        body = exchange.json()
        if verify.field is not None:
            expected = render(verify.equals, self.values)
            if dig(body, verify.field) != expected:
                problems.append(f"afterwards {verify.field} is not {expected!r}")
        if verify.contains_id is not None:
            wanted = render(verify.contains_id, self.values)
            items = body.get("items") if isinstance(body, dict) else body
            listed = items if isinstance(items, list) else []
            ids = [item.get("id") for item in listed if isinstance(item, dict)]
            if wanted not in ids:
                problems.append(f"afterwards id {wanted} is gone")
        return problems

    def mass_assignment(self) -> None:
        for probe in self.plan.mass_assignment:
            self._mass_assignment_probe(probe)

    def _mass_assignment_probe(self, probe: MassAssignmentProbe) -> None:
        check = "mass-assignment"
        sent = self.send(probe.request)
        if isinstance(sent, NotSent) or sent.status == 0 or sent.status >= 500:
            shown = sent.why if isinstance(sent, NotSent) else sent.describe()
            self.log.not_verified(check, f"{probe.description}: {shown}")
            return
        if sent.status >= 300:
            self.log.ok(check)  # refused outright: nothing was assigned
            return
        injected = render(probe.injected, self.values)
        bodies = [sent]
        if probe.reread is not None:
            reread = self.send(probe.reread)
            if isinstance(reread, Exchange) and 200 <= reread.status < 300:
                bodies.append(reread)
        echoed = [
            f"{path} = {dig(source.json(), path)!r} after {source.method} {source.path}"
            for source in bodies
            for path, value in injected.items()
            if dig(source.json(), path) is not MISSING
            and same_value(value, dig(source.json(), path))
        ]
        if probe.admin_row_email is not None:
            flagged, error = self._admin_flags(render(probe.admin_row_email, self.values))
            if error is not None:
                self.log.not_verified(check, f"{probe.description}: {error}")
            echoed += flagged
        if echoed:
            self.log.fail(
                check, f"{probe.description}: {'; '.join(echoed[:4])}; sent {sent.request_body}"
            )
        else:
            self.log.ok(check)

    def _admin_flags(self, email: str) -> tuple[list[str], str | None]:
        """Admin-like columns set on the row of a user registered with is_admin, and the
        error that kept the database from being read."""
        snapshot = DatabaseRows.read(self.context.sample_admin_url(), [email])
        flagged = []
        for table, row in snapshot.rows_for(email):
            for column, value in row.items():
                if _ADMIN_COLUMN.search(column) and value not in (None, False, 0, "", "user"):
                    flagged.append(f"{table}.{column} = {value!r} in the database")
        return flagged, snapshot.error

    # -- injection --------------------------------------------------------------------

    def sql_injection(self) -> None:
        for target in self.plan.sql_injection.queries:
            self._probe_query(target)
        for index, payload in enumerate(SQL_PAYLOADS):
            for template in self.plan.sql_injection.bodies:
                extra = {"payload": payload, "index": index, **fresh_values()}
                written = self.send(template, extra)
                if isinstance(written, NotSent):
                    self.log.not_verified("sql-injection-server-error", written.why)
                else:
                    self._judge_server_error(written)
        self._login_injection()

    def _probe_query(self, target: QueryTarget) -> None:
        """Each payload in one search or filter parameter, against a control word that
        matches nothing: more rows than the control is an injection."""
        what = f"GET {target.path}?{target.param}"
        gap = self.gap("GET", target.path)
        token = self.tokens.get(target.actor) if target.actor else None
        if gap is None and target.actor is not None and token is None:
            gap = self.why_missing(f"token_{target.actor}")
        if gap is not None:
            self.log.not_verified_all(SQL_CHECKS, f"{what}: {gap}")
            return
        params = dict(target.query)
        control = self.client.send(
            "GET", target.path, params={**params, target.param: self.no_match}, token=token
        )
        for payload in SQL_PAYLOADS:
            exchange = self.client.send(
                "GET", target.path, params={**params, target.param: payload}, token=token
            )
            self._judge_server_error(exchange)
            self._judge_rows(what, payload, control, exchange)

    def _judge_rows(self, what: str, payload: str, control: Exchange, exchange: Exchange) -> None:
        check = "sql-injection"
        if control.redirected_away or control.status not in (200, 400, 422):
            self.log.not_verified(check, f"{what}: the control query gives {control.describe()}")
            return
        if control.status != 200:  # the parameter is validated: a payload must be refused too
            if 400 <= exchange.status < 500:
                self.log.ok(check)
            else:
                why = f"{what}: refuses {self.no_match!r} but answers {exchange.describe()}"
                self.log.not_verified(check, why)
            return
        baseline, count = row_count(control.json()), row_count(exchange.json())
        if 400 <= exchange.status < 500 and not exchange.redirected_away:
            self.log.ok(check)
        elif exchange.status != 200 or baseline is None or count is None:
            self.log.not_verified(check, f"{what}={payload!r}: {exchange.describe(200)}")
        elif count > baseline:
            self.log.fail(
                check,
                f"{what}={payload!r} gives {count} rows, a word matching nothing gives"
                f" {baseline}: {exchange.describe(200)}",
            )
        else:
            self.log.ok(check)

    def _judge_server_error(self, exchange: Exchange) -> None:
        if exchange.status >= 500 or exchange.status == 0:
            self.log.fail("sql-injection-server-error", exchange.describe())
        else:
            self.log.ok("sql-injection-server-error")

    def _login_injection(self) -> None:
        spec = self.plan.accounts
        if spec is None or spec.login is None:
            return
        problem = self.gap(spec.login.method, spec.login.path) or self.account_problem("a")
        if problem is not None:
            self.log.not_verified_all(SQL_CHECKS, f"login: {problem}")
            return
        email = self.values["email_a"]
        for attempt in (f"{email}' -- ", "' OR '1'='1' -- ", f"{email}' OR '1'='1"):
            sent = self.send(spec.login, {"email": attempt, "password": "' OR '1'='1"}, token=None)
            if isinstance(sent, NotSent):
                self.log.not_verified_all(SQL_CHECKS, f"login: {sent.why}")
                continue
            self._judge_server_error(sent)
            if 200 <= sent.status < 300 and not sent.redirected_away:
                self.log.fail("sql-injection", f"logged in by injection: {sent.describe()}")
            else:
                self.log.ok("sql-injection")

    def login_enumeration(self) -> None:
        spec = self.plan.accounts
        if spec is None or spec.login is None:
            return
        check = "login-user-enumeration"
        if self.tokens.get("a") is None:
            self.log.not_verified(check, self.why_missing("token_a"))
            return
        wrong = self.wrong_password
        known = self.send(spec.login, {"email": self.values["email_a"], "password": wrong})
        unknown = self.send(spec.login, {"email": self.unknown_email, "password": wrong})
        if isinstance(known, NotSent):
            self.log.not_verified(check, known.why)
            return
        if isinstance(unknown, NotSent):
            self.log.not_verified(check, unknown.why)
            return
        if 200 <= known.status < 300:
            self.log.not_verified(check, f"a wrong password logs in: {known.describe()}")
            return
        if known.status == unknown.status and _same_answer(known, unknown):
            self.log.ok(check)
        else:
            self.log.fail(
                check, f"wrong password: {known.describe()} / unknown email: {unknown.describe()}"
            )

    # -- errors and leaks -------------------------------------------------------------

    def provoke_errors(self) -> None:
        """Requests that take error paths: bad JSON, duplicates, ids beyond any range."""
        writes: dict[tuple[str, str], RequestTemplate] = {}
        templates = [r.request for r in self.plan.resources]
        templates += [t for t in (self.plan.jwt_target,) if t is not None]
        if self.plan.accounts is not None:
            templates.insert(0, self.plan.accounts.create)
        for template in templates:
            if template.method in ("POST", "PATCH", "PUT"):
                writes.setdefault((template.method, template.path), template)
        for template in list(writes.values())[:6]:
            self._malformed_bodies(template)
        if self.plan.accounts is not None and self.account_problem("a") is None:
            self.send(
                self.plan.accounts.create,
                {"email": self.values["email_a"], "full_name": new_name()},
            )
        huge_id = "9" + "".join(str(secrets.randbelow(10)) for _ in range(19))
        huge = {name: huge_id for name in self.values if name.startswith("user_")}
        huge.update({resource.name: huge_id for resource in self.plan.resources})
        for template in self.plan.reads[:4]:
            if "{" in template.path:
                self.send(template, huge)

    def _malformed_bodies(self, template: RequestTemplate) -> None:
        if self.gap(template.method, template.path) is not None:
            return
        try:
            path = render(template.path, self.values)
        except MissingValue:
            return
        token = self.tokens.get(template.actor) if template.actor else None
        broken = '{"broken": '
        headers = {"Content-Type": "application/json"}
        self.client.send(template.method, path, content=broken, headers=headers, token=token)
        self.client.send(template.method, path, json_body=[1, 2, 3], token=token)

    def scan_responses(self) -> None:
        """Everything the app answered, for secrets, password hashes and internals."""
        passive = ("secret-in-response", "error-leaks-internals", "password-in-response")
        if not self.coverage.implemented:
            why = "the app implements no contract operation: its answers show nothing"
            self.log.not_verified_all(passive, why)
            return
        exchanges = self.client.exchanges
        self._scan_secrets(exchanges)
        if self.log.applies("password-in-response"):
            problem = self.account_problem("a")
            if problem is not None:
                self.log.not_verified("password-in-response", problem)
            else:
                self._scan_passwords(exchanges)
        self._scan_internals(exchanges)

    def _scan_secrets(self, exchanges: list[Exchange]) -> None:
        secrets_held = [
            value
            for value in (self.context.jwt_secret, make_url(self.context.database_url).password)
            if value and len(value) >= 8
        ]
        for exchange in exchanges:
            everything = exchange.text + " " + " ".join(exchange.headers.values())
            if any(secret in everything for secret in secrets_held):
                self.log.fail(
                    "secret-in-response", f"{exchange.method} {exchange.path} shows a secret"
                )
        self.log.ok("secret-in-response")

    def _scan_internals(self, exchanges: list[Exchange]) -> None:
        for exchange in exchanges:
            cleaned = without_echo(exchange)
            patterns = _TRACE_PATTERNS + (_INTERNAL_PATTERNS if exchange.status >= 400 else ())
            for pattern in patterns:
                match = pattern.search(cleaned)
                if match:
                    start = max(match.start() - 80, 0)
                    self.log.fail(
                        "error-leaks-internals",
                        f"{exchange.method} {exchange.path} -> {exchange.status}:"
                        f" ...{cleaned[start : match.end() + 120]}...",
                    )
                    break
        self.log.ok("error-leaks-internals")

    def _scan_passwords(self, exchanges: list[Exchange]) -> None:
        check, password = "password-in-response", self.values["password"]
        stored = [secret for secret in self.stored_secrets if len(secret) >= 16]
        for exchange in exchanges:
            success = 200 <= exchange.status < 300
            shown = exchange.describe(200)
            cleaned = without_echo(exchange)
            if success and password in cleaned:
                self.log.fail(check, f"the plaintext password in {shown}")
                continue
            if any(secret in exchange.text for secret in stored) or _HASH_IN_TEXT.search(cleaned):
                self.log.fail(check, f"a password hash in {shown}")
                continue
            if success:
                keys = [
                    key
                    for key, value in json_keys(exchange.json())
                    if _PASSWORD_KEY.match(key) and isinstance(value, str) and value
                ]
                if keys:
                    self.log.fail(check, f"field {keys[0]!r} in {shown}")
        self.log.ok(check)


def _same_answer(known: Exchange, unknown: Exchange) -> bool:
    """The same body, once each request's own strings (the emails) are set aside."""
    body = known.json()
    if body is not None and body == unknown.json():
        return True
    return known.text == unknown.text or without_echo(known) == without_echo(unknown)


# -- the grader ---------------------------------------------------------------------------


class SecurityGrader(Grader):
    name = "security"
    # 3: applicable checks from the plan alone, not verified counts as failed, coverage
    # gating, same-origin redirects followed, per-grade identities, plan query targets.
    # 4: a wall-clock safety cap (120 s) instead of a 20 s budget; a cut run is marked
    # 5: a request on a kept-alive connection the app closed is sent again, once
    # (harness/graders/http_transport.py): "not verified" no longer depends on timing.
    version = "5"
    needs_live_app = True
    fresh_app = True
    weight = 2.0  # an exploitable backend is worse than a broken one
    order = 70
    coverage_scaled = False
    data_files = probe_files()

    def grade(self, context: GradingContext) -> GradeResult:
        assert context.base_url is not None
        plan = load_probe_plan(context.task.id, context.task.root.parent)
        coverage = context.contract_coverage()
        try:
            client = ProbeClient(
                context.base_url,
                max_requests=MAX_REQUESTS,
                budget_s=BUDGET_S,
                timeout_s=REQUEST_TIMEOUT_S,
                sandbox_hosts=context.sandbox_hosts,
            )
        except ValueError as exc:
            return self._not_run(str(exc))
        with client:
            probe = SecurityProbe(context, plan, client, coverage)
            probe.run()
            requests = len(client.exchanges)
        return self._result(probe, requests)

    def _not_run(self, evidence: str) -> GradeResult:
        finding = Finding(
            grader=self.name,
            check="loopback-only",
            severity="high",
            message="the security probes did not run",
            evidence=evidence,
        )
        return GradeResult(grader=self.name, score=0.0, findings=[finding])

    def _result(self, probe: SecurityProbe, requests: int) -> GradeResult:
        log = probe.log
        findings = [self._finding(name, log.records[name]) for name in log.applicable]
        if probe.errors:
            findings.append(
                Finding(
                    grader=self.name,
                    check="probe-errors",
                    severity="info",
                    message=f"{len(probe.errors)} probe step(s) stopped on an unexpected answer",
                    evidence="\n".join(probe.errors[:5]),
                )
            )
        summary = {
            name: log.status(name) if log.applies(name) else "not-applicable" for name in CHECKS
        }
        if probe.incomplete:
            findings.append(
                Finding(
                    grader=self.name,
                    check="security-incomplete",
                    severity="info",
                    message=f"the probes stopped before the end: {probe.incomplete}; the checks "
                    "left count as not verified",
                )
            )
        details = {
            "checks": summary,
            "incomplete": bool(probe.incomplete),
            "requests": requests,
            "redirected": sum(1 for exchange in probe.client.exchanges if exchange.redirects),
            "notes": probe.notes[:20],
            "identity": {"users": [probe.values["email_a"], probe.values["email_b"]]},
        }
        return GradeResult(
            grader=self.name,
            score=score_checks(log),
            findings=[finding for finding in findings if finding is not None],
            details=details,
        )

    def _finding(self, name: str, record: CheckRecord) -> Finding | None:
        severity, description = CHECKS[name]
        if record.status == "failed":
            return Finding(
                grader=self.name,
                check=name,
                severity=severity,
                message=f"{description} ({len(record.failures)} probe(s))",
                evidence="\n".join(record.failures[:MAX_EVIDENCE]),
            )
        if record.status == "not-verified":
            why = record.unverified[0] if record.unverified else "no probe of it passed"
            return Finding(
                grader=self.name,
                check=name,
                severity=NOT_VERIFIED_SEVERITY,
                message=f"not verified: {why}",
                evidence="\n".join(record.unverified[:MAX_EVIDENCE]),
            )
        return None
