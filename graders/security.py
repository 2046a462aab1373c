"""security: black-box probes against the live app plus inspection of its database.

Each probe is a named check with a severity (`CHECKS`). What applies to a task comes from
its plan (`graders/probes/<task>.yaml`: accounts, login, protected requests, resources,
IDOR, mass assignment and SQL injection probes) and from the app's own OpenAPI paths
(every free-text query parameter of a collection is probed for SQL injection). A check
whose setup failed (say, logging in did not work) is inconclusive: reported as info and
left out of the score, which is the severity-weighted share of conclusive checks passed.
Every request goes to the app's loopback URL, within a request and time budget.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from sqlalchemy.engine import make_url

from graders.base import Finding, GradeResult, GradingContext, Severity, register_grader
from graders.probes import (
    Account,
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
from graders.probes.evidence import (
    MISSING,
    DatabaseRows,
    as_text,
    dig,
    json_keys,
    row_count,
    same_value,
    without_echo,
)
from graders.probes.plan import VerifySpec
from graders.probes.tokens import b64url, common_jwt_secrets, hmac_signs, split_token

MAX_REQUESTS = 400
BUDGET_S = 20.0
REQUEST_TIMEOUT_S = 5.0
MARKER = "sp1"
PROBE_PASSWORD = "Sec-probe-Passw0rd-4711"
WRONG_PASSWORD = "Wrong-Passw0rd-0000"
WRONG_KEY = "security-grader-wrong-signing-key-0123456789"
NO_MATCH = "zqx-no-such-row-7391"
UNKNOWN_SUBJECT = "2147000000"
HUGE_ID = "99999999999999999999"
MAX_QUERY_TARGETS = 8
MAX_EVIDENCE = 3
ACCESS_TOKEN_MAX_S = 3600 + 120
SEVERITY_WEIGHTS: dict[str, float] = {"critical": 4, "high": 3, "medium": 2, "low": 1}

# SQL fragments that change a query's meaning if pasted into it; none holds LIKE
# wildcards (a wildcard is not an injection) and the DROP names a table nobody has.
SQL_PAYLOADS = (
    "' OR '1'='1",
    "' OR 1=1 -- ",
    "') OR ('1'='1",
    '" OR "1"="1',
    "' UNION SELECT NULL -- ",
    "'; DROP TABLE probe_nonexistent; -- ",
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
JWT_CHECKS = [name for name in CHECKS if name.startswith("jwt-")]

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


@dataclass
class CheckRecord:
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)

    @property
    def status(self) -> Literal["passed", "failed", "inconclusive"]:
        if self.failures:
            return "failed"
        return "passed" if self.passed else "inconclusive"


class CheckLog:
    """Sub-results per check: a check fails on any failure, passes on any pass."""

    def __init__(self) -> None:
        self.records: dict[str, CheckRecord] = {}

    def _record(self, check: str) -> CheckRecord:
        if check not in CHECKS:
            raise KeyError(f"unknown security check {check}")
        return self.records.setdefault(check, CheckRecord())

    def ok(self, check: str) -> None:
        self._record(check).passed += 1

    def fail(self, check: str, evidence: str) -> None:
        self._record(check).failures.append(evidence)

    def unsure(self, check: str, why: str) -> None:
        self._record(check).inconclusive.append(why)

    def expect(self, check: str, exchange: Exchange, allowed: tuple[int, ...], what: str) -> None:
        if exchange.status in allowed:
            self.ok(check)
        else:
            self.fail(check, f"{what}: {exchange.describe()}")


class SecurityProbe:
    """One run of every applicable probe against one live app."""

    def __init__(
        self,
        context: GradingContext,
        plan: ProbePlan,
        document: dict[str, Any],
        client: ProbeClient,
    ) -> None:
        self.context = context
        self.plan = plan
        self.document = document
        self.client = client
        self.log = CheckLog()
        self.values: dict[str, Any] = {"marker": MARKER, "password": PROBE_PASSWORD}
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, str | None] = {"a": None, "b": None}
        self.stored_secrets: list[str] = []
        self.notes: list[str] = []
        self.errors: list[str] = []

    # -- plumbing ---------------------------------------------------------------------

    def send(
        self,
        template: RequestTemplate,
        extra: Mapping[str, Any] | None = None,
        *,
        token: str | None | Literal["actor"] = "actor",
    ) -> Exchange | None:
        """Render and send a template; None when a value it needs is missing."""
        values = {**self.values, **(extra or {})}
        try:
            path = render(template.path, values)
            body = render(template.body, values) if template.body is not None else None
            params = {key: str(render(value, values)) for key, value in template.query.items()}
        except MissingValue as exc:
            self.notes.append(f"{template.operation}: no value for {{{exc}}}")
            return None
        chosen = self.tokens.get(template.actor) if token == "actor" and template.actor else None
        if token != "actor":
            chosen = token
        return self.client.send(
            template.method, path, json_body=body, params=params or None, token=chosen
        )

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
        for step in steps:
            try:
                step()
            except ProbeBudgetExceeded as exc:
                self.notes.append(f"stopped before the end: {exc}")
                break
            except Exception as exc:  # an app's odd answer must not crash the grader
                self.errors.append(f"{step.__name__}: {exc.__class__.__name__}: {exc}")
        self.scan_responses()

    # -- setup ------------------------------------------------------------------------

    def set_up(self) -> None:
        spec = self.plan.accounts
        if spec is not None:
            for actor in ("a", "b"):
                email = f"security-{actor}-{MARKER}@example.com"
                self.values[f"email_{actor}"] = email
                account = create_account(
                    self.client, spec, email, PROBE_PASSWORD, f"Security Probe {actor.upper()}"
                )
                self.accounts[actor] = account
                if account.user_id is not None:
                    self.values[f"user_{actor}"] = account.user_id
                self.tokens[actor] = account.access_token
        for resource in self.plan.resources:
            exchange = self.send(resource.request)
            body = exchange.json() if exchange is not None else None
            if exchange is not None and 200 <= exchange.status < 300 and isinstance(body, dict):
                if resource.id_field in body:
                    self.values[resource.name] = body[resource.id_field]
                    continue
            self.notes.append(f"resource {resource.name} not created")
        for read in self.plan.reads:
            self.send(read)
        self.inspect_database()

    def inspect_database(self) -> None:
        """Passwords at rest, from the rows that hold the probe users' emails."""
        account = self.accounts.get("a")
        if account is None or account.created is None:
            return
        check_plain, check_algo = "password-stored-plaintext", "password-hash-algorithm"
        if not 200 <= account.created.status < 300:
            why = f"could not create a user: {account.created.describe()}"
            self.log.unsure(check_plain, why)
            self.log.unsure(check_algo, why)
            return
        snapshot = DatabaseRows.read(self.context.database_url, [account.email])
        rows = snapshot.rows_for(account.email)
        if not rows:
            why = snapshot.error or f"no row holds {account.email}"
            self.log.unsure(check_plain, why)
            self.log.unsure(check_algo, why)
            return
        digests = {
            getattr(hashlib, name)(PROBE_PASSWORD.encode()).hexdigest()
            for name in ("md5", "sha1", "sha256", "sha512")
        }
        candidates: list[tuple[str, str]] = []
        for table, row in rows:
            for column, value in row.items():
                text = as_text(value)
                if text is None:
                    continue
                where = f"{table}.{column}"
                if PROBE_PASSWORD in text:
                    self.log.fail(check_plain, f"{where} = {text[:80]!r}")
                elif text.strip().lower() in digests:
                    self.log.fail(check_plain, f"{where} = {text[:80]!r} (unsalted digest)")
                if _BCRYPT.match(text) or _ARGON2.match(text) or _SECRET_COLUMN.search(column):
                    candidates.append((where, text))
                    self.stored_secrets.append(text)
        self.log.ok(check_plain)
        strong = [where for where, text in candidates if _BCRYPT.match(text) or _ARGON2.match(text)]
        if strong:
            self.log.ok(check_algo)
        elif candidates:
            where, text = candidates[0]
            self.log.fail(check_algo, f"{where} = {text[:40]!r}... is neither bcrypt nor argon2")
        else:
            self.log.unsure(check_algo, "no column looks like a password hash")

    # -- JWT --------------------------------------------------------------------------

    def jwt_attacks(self) -> None:
        spec, target = self.plan.accounts, self.plan.jwt_target
        if spec is None or spec.login is None or target is None:
            return
        account = self.accounts.get("a")
        token = account.access_token if account is not None else None
        parts = split_token(token) if token else None
        baseline = self.send(target, token=token) if token else None
        if token is None or parts is None or baseline is None:
            why = "no access token from logging in" if token is None else "token is not a JWT"
            for check in JWT_CHECKS:
                self.log.unsure(check, why)
            return
        if not 200 <= baseline.status < 300:
            for check in JWT_CHECKS:
                self.log.unsure(check, f"a fresh access token is refused: {baseline.describe()}")
            return
        header, claims = parts
        algorithm = str(header.get("alg", "HS256"))
        reject = (401, 403)
        for alg in ("none", "None"):
            forged = f"{b64url({**header, 'alg': alg})}.{b64url(claims)}."
            self._attack("jwt-alg-none", target, forged, reject, f"alg {alg}")
        if algorithm.startswith("HS"):
            wrong = jwt.encode(claims, WRONG_KEY, algorithm=algorithm, headers=header)
            self._attack("jwt-wrong-key", target, wrong, reject, "signed with another key")
        else:
            self.log.unsure("jwt-wrong-key", f"token algorithm {algorithm} is not HMAC")
        other = self.values.get("user_b")
        tampered_claims = dict(claims)
        if "sub" in claims and other is not None and str(other) != str(claims["sub"]):
            tampered_claims["sub"] = str(other) if isinstance(claims["sub"], str) else other
        else:
            tampered_claims["probe"] = "tampered"
        head, _, signature = token.split(".")
        tampered = f"{head}.{b64url(tampered_claims)}.{signature}"
        self._attack("jwt-tampered-payload", target, tampered, reject, "payload changed")
        self._secret_attacks(target, token, header, claims, algorithm)
        guessed = next(
            (key for key in common_jwt_secrets() if hmac_signs(token, key, algorithm)), None
        )
        if guessed is not None:
            self.log.fail("jwt-guessable-secret", f"the access token verifies with {guessed!r}")
        elif algorithm.startswith("HS"):
            self.log.ok("jwt-guessable-secret")
        else:
            self.log.unsure("jwt-guessable-secret", f"token algorithm {algorithm} is not HMAC")
        refresh = account.refresh_token if account is not None else None
        if refresh:
            self._attack("jwt-refresh-as-access", target, refresh, reject, "refresh token")
        else:
            self.log.unsure("jwt-refresh-as-access", "logging in gave no refresh token")
        self._access_as_refresh(token)
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)):
            self.log.fail("jwt-access-token-lifetime", f"no exp claim: {claims}")
        elif expires - time.time() > ACCESS_TOKEN_MAX_S:
            minutes = (expires - time.time()) / 60
            self.log.fail("jwt-access-token-lifetime", f"exp is {minutes:.0f} minutes away")
        else:
            self.log.ok("jwt-access-token-lifetime")

    def _attack(
        self,
        check: str,
        target: RequestTemplate,
        token: str,
        allowed: tuple[int, ...],
        what: str,
    ) -> None:
        exchange = self.send(target, token=token)
        if exchange is not None:
            self.log.expect(check, exchange, allowed, f"{what}, token {token[:60]}...")

    def _secret_attacks(
        self,
        target: RequestTemplate,
        token: str,
        header: dict[str, Any],
        claims: dict[str, Any],
        algorithm: str,
    ) -> None:
        """Well-signed tokens the app must still refuse; only meaningful when the app
        signs with the JWT_SECRET it was given (else a refusal proves nothing)."""
        secret = self.context.jwt_secret
        if secret is None or not hmac_signs(token, secret, algorithm):
            for check in ("jwt-expired", "jwt-unknown-subject"):
                self.log.unsure(check, "the app's tokens are not signed with JWT_SECRET")
            return
        now = int(time.time())
        expired = {**claims, "exp": now - 3600}
        if "iat" in claims:
            expired["iat"] = now - 7200
        token = jwt.encode(expired, secret, algorithm=algorithm, headers=header)
        self._attack("jwt-expired", target, token, (401, 403), "expired an hour ago")
        nobody = {**claims, "sub": UNKNOWN_SUBJECT, "exp": now + 600}
        token = jwt.encode(nobody, secret, algorithm=algorithm, headers=header)
        self._attack("jwt-unknown-subject", target, token, (401, 403, 404), "sub of no user")

    def _access_as_refresh(self, access_token: str) -> None:
        spec = self.plan.accounts
        account = self.accounts.get("a")
        if spec is None or spec.refresh is None or account is None:
            return
        check = "jwt-access-as-refresh"
        if not account.refresh_token:
            self.log.unsure(check, "logging in gave no refresh token")
            return
        genuine = self.send(spec.refresh, {"token": account.refresh_token}, token=None)
        if genuine is None or genuine.status != 200:
            shown = genuine.describe() if genuine else "not sent"
            self.log.unsure(check, f"a genuine refresh is refused: {shown}")
            return
        exchange = self.send(spec.refresh, {"token": access_token}, token=None)
        if exchange is not None:
            self.log.expect(check, exchange, (401, 403), "access token sent to refresh")

    # -- authorization ----------------------------------------------------------------

    def auth_required(self) -> None:
        for template in self.plan.protected:
            for token in (None, "not-a-jwt"):
                exchange = self.send(template, token=token)
                if exchange is None:
                    self.log.unsure("auth-required", f"{template.operation}: setup missing")
                    continue
                what = "no credentials" if token is None else "garbage bearer token"
                self.log.expect("auth-required", exchange, (401, 403), what)

    def idor(self) -> None:
        for probe in self.plan.idor:
            if self.tokens.get("b") is None:
                self.log.unsure("idor-cross-user", "the second user has no token")
                return
            exchange = self.send(probe.request)
            if exchange is None:
                self.log.unsure("idor-cross-user", f"{probe.description}: setup missing")
                continue
            problems = []
            if 200 <= exchange.status < 300:
                problems.append(f"answered {exchange.status}")
            verified = self.send(probe.verify.request)
            if verified is None:
                self.log.unsure("idor-cross-user", f"{probe.description}: cannot verify")
                continue
            problems += self._verify_failures(probe.verify, verified)
            if problems:
                self.log.fail(
                    "idor-cross-user",
                    f"{probe.description}: {'; '.join(problems)}: {exchange.describe()}"
                    f" / then {verified.describe()}",
                )
            else:
                self.log.ok("idor-cross-user")

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
        check = "mass-assignment"
        for probe in self.plan.mass_assignment:
            exchange = self.send(probe.request)
            if exchange is None:
                self.log.unsure(check, f"{probe.description}: setup missing")
                continue
            if exchange.status >= 500 or exchange.status == 0:
                self.log.unsure(check, f"{probe.description}: {exchange.describe()}")
                continue
            if exchange.status >= 300:
                self.log.ok(check)  # refused outright: nothing was assigned
                continue
            injected = render(probe.injected, self.values)
            bodies = [exchange]
            if probe.reread is not None:
                reread = self.send(probe.reread)
                if reread is not None and 200 <= reread.status < 300:
                    bodies.append(reread)
            echoed = [
                f"{path} = {dig(source.json(), path)!r} after {source.method} {source.path}"
                for source in bodies
                for path, value in injected.items()
                if dig(source.json(), path) is not MISSING
                and same_value(value, dig(source.json(), path))
            ]
            if probe.admin_row_email is not None:
                echoed += self._admin_flags(render(probe.admin_row_email, self.values))
            if echoed:
                self.log.fail(
                    check,
                    f"{probe.description}: {'; '.join(echoed[:4])}; sent {exchange.request_body}",
                )
            else:
                self.log.ok(check)

    def _admin_flags(self, email: str) -> list[str]:
        """Admin-like columns set on the row of a user registered with is_admin."""
        snapshot = DatabaseRows.read(self.context.database_url, [email])
        flagged = []
        for table, row in snapshot.rows_for(email):
            for column, value in row.items():
                if _ADMIN_COLUMN.search(column) and value not in (None, False, 0, "", "user"):
                    flagged.append(f"{table}.{column} = {value!r} in the database")
        return flagged

    # -- injection --------------------------------------------------------------------

    def _query_targets(self) -> list[tuple[str, str, dict[str, str], str | None]]:
        """(path, parameter, fixed query, actor) for every free-text query parameter."""
        spec = self.plan.sql_injection
        targets = [(t.path, t.param, dict(t.query), t.actor) for t in spec.queries]
        if spec.discover_queries:
            for path, item in sorted((self.document.get("paths") or {}).items()):
                operation = item.get("get") if isinstance(item, dict) else None
                if "{" in path or not isinstance(operation, dict):
                    continue
                for parameter in operation.get("parameters") or []:
                    if _is_free_text_query(parameter):
                        targets.append((path, str(parameter["name"]), {}, None))
        unique: dict[tuple[str, str], tuple[str, str, dict[str, str], str | None]] = {}
        for target in targets:
            unique.setdefault((target[0], target[1]), target)
        return list(unique.values())[:MAX_QUERY_TARGETS]

    def sql_injection(self) -> None:
        for path, param, fixed, actor in self._query_targets():
            token = self.tokens.get(actor) if actor else None
            control = self.client.send("GET", path, params={**fixed, param: NO_MATCH}, token=token)
            baseline = row_count(control.json()) if control.status == 200 else None
            for payload in SQL_PAYLOADS:
                params = {**fixed, param: payload}
                exchange = self.client.send("GET", path, params=params, token=token)
                self._judge_injection(exchange)
                count = row_count(exchange.json()) if exchange.status == 200 else None
                if baseline is not None and count is not None and count > baseline:
                    self.log.fail(
                        "sql-injection",
                        f"{param}={payload!r} gives {count} rows, {NO_MATCH!r} gives {baseline}:"
                        f" {exchange.describe(200)}",
                    )
                elif baseline is not None:
                    self.log.ok("sql-injection")
        for index, payload in enumerate(SQL_PAYLOADS):
            for template in self.plan.sql_injection.bodies:
                written = self.send(template, {"payload": payload, "index": index})
                if written is not None:
                    self._judge_injection(written)
        self._login_injection()

    def _judge_injection(self, exchange: Exchange) -> None:
        if exchange.status >= 500 or exchange.status == 0:
            self.log.fail("sql-injection-server-error", exchange.describe())
        else:
            self.log.ok("sql-injection-server-error")

    def _login_injection(self) -> None:
        spec = self.plan.accounts
        email = self.values.get("email_a")
        if spec is None or spec.login is None or email is None:
            return
        for attempt in (f"{email}' -- ", "' OR '1'='1' -- ", f"{email}' OR '1'='1"):
            exchange = self.send(
                spec.login, {"email": attempt, "password": "' OR '1'='1"}, token=None
            )
            if exchange is None:
                continue
            self._judge_injection(exchange)
            if 200 <= exchange.status < 300:
                self.log.fail("sql-injection", f"logged in by injection: {exchange.describe()}")
            else:
                self.log.ok("sql-injection")

    def login_enumeration(self) -> None:
        spec = self.plan.accounts
        account = self.accounts.get("a")
        if spec is None or spec.login is None or account is None:
            return
        check = "login-user-enumeration"
        if account.access_token is None:
            self.log.unsure(check, "the probe user cannot log in")
            return
        known = self.send(spec.login, {"email": account.email, "password": WRONG_PASSWORD})
        unknown = self.send(
            spec.login, {"email": f"nobody-{MARKER}@example.com", "password": WRONG_PASSWORD}
        )
        if known is None or unknown is None:
            return
        if 200 <= known.status < 300:
            self.log.unsure(check, f"a wrong password logs in: {known.describe()}")
            return
        same_body = known.json() == unknown.json() if known.json() is not None else None
        if known.status == unknown.status and (same_body or known.text == unknown.text):
            self.log.ok(check)
        else:
            self.log.fail(
                check, f"wrong password: {known.describe()} / unknown email: {unknown.describe()}"
            )

    # -- errors and leaks -------------------------------------------------------------

    def provoke_errors(self) -> None:
        """Requests that take error paths: bad JSON, duplicates, ids beyond any range."""
        writes: dict[tuple[str, str], RequestTemplate] = {}
        templates = [r.request for r in self.plan.resources] + [
            t for t in (self.plan.jwt_target,) if t is not None
        ]
        if self.plan.accounts is not None:
            templates.insert(0, self.plan.accounts.create)
        for template in templates:
            if template.method in ("POST", "PATCH", "PUT"):
                writes.setdefault((template.method, template.path), template)
        for (method, _), template in list(writes.items())[:6]:
            try:
                path = render(template.path, self.values)
            except MissingValue:
                continue
            token = self.tokens.get(template.actor) if template.actor else None
            self.client.send(
                method,
                path,
                content='{"broken": ',
                headers={"Content-Type": "application/json"},
                token=token,
            )
            self.client.send(method, path, json_body=[1, 2, 3], token=token)
        if self.plan.accounts is not None and "email_a" in self.values:
            self.send(
                self.plan.accounts.create,
                {"email": self.values["email_a"], "full_name": "Duplicate Probe"},
            )
        huge = {name: HUGE_ID for name in self.values if name.startswith("user_")}
        huge.update({resource.name: HUGE_ID for resource in self.plan.resources})
        for template in self.plan.reads[:4]:
            if "{" in template.path:
                self.send(template, huge)

    def scan_responses(self) -> None:
        exchanges = self.client.exchanges
        secrets = [
            value
            for value in (self.context.jwt_secret, make_url(self.context.database_url).password)
            if value and len(value) >= 8
        ]
        for exchange in exchanges:
            everything = exchange.text + " " + " ".join(exchange.headers.values())
            for secret in secrets:
                if secret in everything:
                    self.log.fail(
                        "secret-in-response", f"{exchange.method} {exchange.path} shows a secret"
                    )
        self.log.ok("secret-in-response")
        if self.accounts:
            self._scan_passwords(exchanges)
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
        check = "password-in-response"
        stored = [secret for secret in self.stored_secrets if len(secret) >= 16]
        for exchange in exchanges:
            success = 200 <= exchange.status < 300
            shown = exchange.describe(200)
            cleaned = without_echo(exchange)
            if success and PROBE_PASSWORD in cleaned:
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


def _is_free_text_query(parameter: Any) -> bool:
    if not isinstance(parameter, dict) or parameter.get("in") != "query":
        return False
    schema = parameter.get("schema") or {}
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return any(
        isinstance(option, dict)
        and option.get("type") == "string"
        and "enum" not in option
        and option.get("format") not in ("date", "date-time", "time", "uuid", "binary")
        for option in options
    )


def score_checks(log: CheckLog) -> float:
    """Severity-weighted share of conclusive checks passed."""
    weights = {name: SEVERITY_WEIGHTS.get(CHECKS[name][0], 1.0) for name in log.records}
    conclusive = {name: r for name, r in log.records.items() if r.status != "inconclusive"}
    total = sum(weights[name] for name in conclusive)
    passed = sum(weights[name] for name, r in conclusive.items() if r.status == "passed")
    return passed / total if total else 0.0


@register_grader
class SecurityGrader:
    name = "security"
    version = "2"  # 2: runs against docker candidates (1 refused their address)
    needs_live_app = True

    def grade(self, context: GradingContext) -> GradeResult:
        assert context.base_url is not None
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
            document = client.send("GET", "/openapi.json").json()
            if not isinstance(document, dict):
                document = {}
            plan = load_probe_plan(context.task.id, document.get("paths") or {})
            probe = SecurityProbe(context, plan, document, client)
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
        findings: list[Finding] = []
        summary: dict[str, str] = {}
        for name, record in probe.log.records.items():
            severity, description = CHECKS[name]
            summary[name] = record.status
            if record.status == "failed":
                findings.append(
                    Finding(
                        grader=self.name,
                        check=name,
                        severity=severity,
                        message=f"{description} ({len(record.failures)} probe(s))",
                        evidence="\n".join(record.failures[:MAX_EVIDENCE]),
                    )
                )
            elif record.status == "inconclusive":
                findings.append(
                    Finding(
                        grader=self.name,
                        check=name,
                        severity="info",
                        message=f"inconclusive: {record.inconclusive[0]}",
                    )
                )
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
        return GradeResult(
            grader=self.name,
            score=score_checks(probe.log),
            findings=findings,
            details={"checks": summary, "requests": requests, "notes": probe.notes[:20]},
        )
