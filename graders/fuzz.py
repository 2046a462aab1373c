"""fuzz: schemathesis against the live app's own OpenAPI document.

schemathesis runs as a subprocess (`python -m schemathesis.cli run`), seeded and
derandomized, bounded in examples per operation and capped in wall time from outside;
where the task has auth, a fresh user is registered and logged in over HTTP first and
its Bearer token is sent with every request (`ignored_auth` then re-sends requests
without it on purpose). Its NDJSON event stream says, per test case, which checks ran
and which failed, with the exact request: the score is the share of (operation x check)
cells without an uncalibrated failure, weighted per check. Checks, exclusions and
calibrations, each with its reason, live in `graders/calibration/fuzz.yaml`.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from graders.base import Finding, GradeResult, GradingContext, Severity, register_grader
from graders.probes import ProbeBudgetExceeded, ProbeClient, create_account, load_probe_plan
from harness.config import CACHE_DIR

CONFIG_PATH = Path(__file__).resolve().parent / "calibration" / "fuzz.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Calibration may never touch these: a 5xx or a response breaking its own schema is real.
NEVER_CALIBRATED = frozenset({"not_a_server_error", "response_schema_conformance"})
FUZZ_USER_EMAIL = "fuzz-grader@example.com"
FUZZ_USER_PASSWORD = "Fuzz-grader-passw0rd"
EXCERPT_CHARS = 400
MAX_CHAIN = 8
_PROBE_STATUS = re.compile(r"Expected 401 or 403, got `(\d{3})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSettings(_Strict):
    seed: int
    deterministic: bool = True
    phases: list[Literal["examples", "coverage", "fuzzing", "stateful"]] = Field(min_length=1)
    coverage_mode: Literal["positive", "all"] = "positive"
    unexpected_methods: list[str] = ["OPTIONS", "TRACE"]
    fuzzing_mode: Literal["positive", "negative", "all"] = "all"
    fuzzing_max_examples: int = Field(ge=1, le=1000)
    stateful_max_examples: int = Field(ge=1, le=1000)
    stateful_max_steps: int = Field(default=6, ge=2, le=100)
    workers: int = Field(default=1, ge=1, le=8)
    request_timeout_s: float = Field(gt=0)
    timeout_s: float = Field(gt=0)
    shrink: bool = False

    def schemathesis_toml(self) -> str:
        """The run's schemathesis.toml: per-phase modes and bounds the CLI cannot set."""
        methods = ", ".join(f'"{method}"' for method in self.unexpected_methods)
        lines = [
            f"workers = {self.workers}",
            f"request-timeout = {self.request_timeout_s}",
            "continue-on-failure = true",
            # No crash cache across runs: a re-grade sees the app, not earlier runs.
            "[cache]",
            "enabled = false",
            "[generation]",
            f"deterministic = {str(self.deterministic).lower()}",
            f"no-shrink = {str(not self.shrink).lower()}",
            "[phases.coverage]",
            f"unexpected-methods = [{methods}]",
            "[phases.coverage.generation]",
            f'mode = "{self.coverage_mode}"',
            "[phases.fuzzing.generation]",
            f'mode = "{self.fuzzing_mode}"',
            f"max-examples = {self.fuzzing_max_examples}",
            "[phases.stateful]",
            f"max-steps = {self.stateful_max_steps}",
            "[phases.stateful.generation]",
            f"max-examples = {self.stateful_max_examples}",
        ]
        if not self.deterministic:
            lines.insert(lines.index("[generation]") + 1, f"seed = {self.seed}")
            lines.insert(lines.index("[generation]") + 1, 'database = "none"')
        return "\n".join(lines) + "\n"


class CheckSpec(_Strict):
    name: str
    codes: list[str] = Field(min_length=1)
    severity: Severity
    weight: float = Field(gt=0)
    why: str = Field(min_length=1)
    # unsupported_method & co. only judge the coverage phase's negative scenarios.
    needs_negative_coverage: bool = False
    # ignored_auth: when the credential-less request was refused, only not with 401/403.
    severity_if_refused: Severity | None = None


class ExcludedCheck(_Strict):
    name: str
    reason: str = Field(min_length=1)


class Calibration(_Strict):
    id: str
    check: str
    codes: list[str] = Field(min_length=1)
    rule: Literal["allow-subset-of-documented"]
    reason: str = Field(min_length=1)


class FuzzConfig(_Strict):
    run: RunSettings
    checks: list[CheckSpec] = Field(min_length=1)
    excluded_checks: list[ExcludedCheck] = []
    calibrations: list[Calibration] = []

    @model_validator(mode="after")
    def _calibrations_are_safe(self) -> FuzzConfig:
        selected = {check.name for check in self.checks}
        for calibration in self.calibrations:
            if calibration.check in NEVER_CALIBRATED:
                raise ValueError(f"calibration {calibration.id} may not touch {calibration.check}")
            if calibration.check not in selected:
                raise ValueError(f"calibration {calibration.id} names unselected check")
        return self

    @property
    def active_checks(self) -> list[CheckSpec]:
        """The checks this run can judge (negative-coverage ones need that phase)."""
        negative = "coverage" in self.run.phases and self.run.coverage_mode == "all"
        return [check for check in self.checks if negative or not check.needs_negative_coverage]

    def check(self, name: str) -> CheckSpec | None:
        return next((check for check in self.active_checks if check.name == name), None)


@cache
def load_config(path: Path = CONFIG_PATH) -> FuzzConfig:
    return FuzzConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class SentRequest:
    """A request as schemathesis sent it, enough to send it again byte for byte."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def curl(self) -> str:
        return curl_command(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body_base64": base64.b64encode(self.body).decode() if self.body is not None else None,
        }


@dataclass
class CheckFailure:
    operation: str
    check: str
    code: str
    title: str
    message: str
    status: int | None
    response_excerpt: str
    allow: list[str]
    steps: list[SentRequest]

    @property
    def refused_with(self) -> int | None:
        """ignored_auth: the non-2xx status the credential-less probe got, if any."""
        match = _PROBE_STATUS.search(self.message)
        if match is None or match.group(1).startswith("2"):
            return None
        return int(match.group(1))

    def reproduction(self) -> str:
        return "\n".join(step.curl() for step in self.steps)


@dataclass
class RunRecord:
    """What one schemathesis run saw, per operation and check."""

    ran: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: list[CheckFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cases: int = 0
    finished: bool = False

    @property
    def tested_operations(self) -> set[str]:
        return {operation for operation, _ in self.ran}


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int | None
    timed_out: bool
    seconds: float
    log_tail: str


def curl_command(request: SentRequest) -> str:
    """A shell line that sends `request` again exactly (a raw NUL goes through printf)."""
    parts = ["curl", "-sS", "-X", request.method, shlex.quote(request.url)]
    for name, value in request.headers.items():
        parts += ["-H", _shell_bytes(f"{name}: {value}".encode())]
    if request.body is None:
        return " ".join(parts)
    if b"\x00" in request.body:
        escaped = "".join(f"\\{byte:03o}" for byte in request.body)
        return f"printf '{escaped}' | " + " ".join([*parts, "--data-binary", "@-"])
    return " ".join([*parts, "--data-binary", _shell_bytes(request.body)])


def _shell_bytes(data: bytes) -> str:
    """Quote bytes for bash: plain quoting when printable ASCII, else $'...' escapes."""
    if all(32 <= byte < 127 for byte in data):
        return shlex.quote(data.decode("ascii"))
    escaped = []
    for byte in data:
        if byte in (ord("'"), ord("\\")):
            escaped.append("\\" + chr(byte))
        elif 32 <= byte < 127:
            escaped.append(chr(byte))
        else:
            escaped.append(f"\\x{byte:02x}")
    return "$'" + "".join(escaped) + "'"


def openapi_operations(document: dict[str, Any]) -> dict[str, set[str]]:
    """Path -> documented methods (upper case)."""
    operations: dict[str, set[str]] = {}
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return operations
    for path, item in paths.items():
        if isinstance(item, dict):
            methods = {method.upper() for method in item if method in HTTP_METHODS}
            if methods:
                operations[path] = methods
    return operations


def parse_events(lines: Iterator[str], known: set[str]) -> RunRecord:
    """Fold schemathesis' NDJSON events into per-(operation, check) results."""
    record = RunRecord()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the last line of a run cut at the time cap may be partial
        if not isinstance(event, dict) or len(event) != 1:
            continue
        kind, payload = next(iter(event.items()))
        if not isinstance(payload, dict):
            continue
        if kind == "ScenarioFinished":
            try:
                _fold_scenario(record, payload.get("recorder") or {}, known)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                record.errors.append(f"unreadable event: {exc.__class__.__name__}: {exc}")
        elif kind == "NonFatalError":
            record.errors.append(f"{payload.get('label')}: {_error_text(payload.get('value'))}")
        elif kind == "FatalError":
            record.errors.append(f"fatal: {_error_text(payload.get('value'))}")
        elif kind == "EngineFinished":
            record.finished = True
    return record


def _error_text(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text[:EXCERPT_CHARS]


def _fold_scenario(record: RunRecord, recorder: dict[str, Any], known: set[str]) -> None:
    cases: dict[str, Any] = recorder.get("cases") or {}
    interactions: dict[str, Any] = recorder.get("interactions") or {}
    label = recorder.get("label")
    for case_id, checks in (recorder.get("checks") or {}).items():
        case = (cases.get(case_id) or {}).get("value") or {}
        own = f"{str(case.get('method', '')).upper()} {case.get('path', '')}"
        if own in known:
            operation = own
        elif isinstance(label, str) and label in known:
            operation = label
        else:
            continue
        record.cases += 1
        for check in checks:
            name = check.get("name")
            status = check.get("status")
            if not isinstance(name, str) or status not in ("success", "failure"):
                continue
            failure = ((check.get("failure_info") or {}).get("failure")) or {}
            named = failure.get("operation")
            where = named if isinstance(named, str) and named in known else operation
            record.ran[(where, name)] = record.ran.get((where, name), 0) + 1
            if status == "failure":
                record.failures.append(_failure(where, name, failure, case_id, cases, interactions))


def _failure(
    operation: str,
    check: str,
    failure: dict[str, Any],
    case_id: str,
    cases: dict[str, Any],
    interactions: dict[str, Any],
) -> CheckFailure:
    interaction = interactions.get(case_id) or {}
    response = interaction.get("response") or {}
    headers = response.get("headers") or {}
    allow = [
        method.strip().upper()
        for value in headers.get("allow", [])
        for method in str(value).split(",")
        if method.strip()
    ]
    return CheckFailure(
        operation=operation,
        check=check,
        code=str(failure.get("code", "")),
        title=str(failure.get("title", check)),
        message=str(failure.get("message", ""))[:EXCERPT_CHARS],
        status=response.get("status_code"),
        response_excerpt=_decode(response.get("content"))[:EXCERPT_CHARS],
        allow=allow,
        steps=_steps(case_id, cases, interactions),
    )


def _decode(content: Any) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", errors="replace")
    return "" if content is None else str(content)


def _steps(case_id: str, cases: dict[str, Any], interactions: dict[str, Any]) -> list[SentRequest]:
    """The failing request, preceded by the stateful steps that led to it."""
    chain: list[SentRequest] = []
    current: str | None = case_id
    while current is not None and len(chain) < MAX_CHAIN:
        request = (interactions.get(current) or {}).get("request")
        if request:
            chain.append(_sent_request(request))
        current = (cases.get(current) or {}).get("parent_id")
    return list(reversed(chain))


def _sent_request(request: dict[str, Any]) -> SentRequest:
    headers = {
        name: ", ".join(str(value) for value in values) if isinstance(values, list) else values
        for name, values in (request.get("headers") or {}).items()
    }
    body = request.get("body")
    raw: bytes | None = None
    if isinstance(body, dict) and "$base64" in body:
        raw = base64.b64decode(body["$base64"])
    elif isinstance(body, str):
        raw = body.encode()
    return SentRequest(
        method=str(request.get("method", "GET")),
        url=str(request.get("uri", "")),
        headers=headers,
        body=raw,
    )


def calibration_for(
    failure: CheckFailure, config: FuzzConfig, documented: dict[str, set[str]]
) -> Calibration | None:
    """The calibration that explains this failure away, if any (never a 5xx)."""
    if failure.check in NEVER_CALIBRATED or (failure.status or 0) >= 500:
        return None
    for calibration in config.calibrations:
        if calibration.check != failure.check or failure.code not in calibration.codes:
            continue
        if calibration.rule == "allow-subset-of-documented":
            path = failure.operation.split(" ", 1)[1]
            methods = documented.get(path, set()) | {"HEAD", "OPTIONS"}
            if failure.allow and set(failure.allow) <= methods:
                return calibration
    return None


def _hypothesis_storage(workdir: Path) -> Path:
    """A lasting home for Hypothesis' Unicode tables: rebuilt in a fresh folder, they cost
    seconds per run. Derandomized runs keep no example database there."""
    storage = CACHE_DIR / "hypothesis"
    try:
        storage.mkdir(parents=True, exist_ok=True)
    except OSError:
        return workdir / ".hypothesis"
    return storage


def run_schemathesis(
    base_url: str, settings: RunSettings, checks: list[str], token: str | None, workdir: Path
) -> RunOutcome:
    """One `schemathesis run` in its own session, killed at the time cap."""
    events_path = workdir / "events.ndjson"
    config_path = workdir / "schemathesis.toml"
    config_path.write_text(settings.schemathesis_toml(), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_path),
        "--no-color",
        "run",
        f"{base_url}/openapi.json",
        # Every request goes to the app's own loopback URL, whatever `servers` the
        # document lists, and no redirect is followed elsewhere.
        "--url",
        base_url,
        "--max-redirects",
        "0",
        "--checks",
        ",".join(checks),
        "--phases",
        ",".join(settings.phases),
        "--output-sanitize",
        "false",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events_path),
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    log_path = workdir / "schemathesis.log"
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_COLOR": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(_hypothesis_storage(workdir)),
    }
    started = time.monotonic()
    timed_out = False
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            exit_code: int | None = process.wait(timeout=settings.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            exit_code = None
    seconds = time.monotonic() - started
    log_tail = log_path.read_text(errors="replace")[-2000:]
    return RunOutcome(exit_code, timed_out, seconds, log_tail)


@register_grader
class FuzzGrader:
    name = "fuzz"
    version = "2"  # 2: runs against docker candidates (1 refused their address)
    needs_live_app = True

    def grade(self, context: GradingContext) -> GradeResult:
        config = load_config()
        assert context.base_url is not None
        try:
            client = ProbeClient(
                context.base_url,
                max_requests=20,
                budget_s=15,
                sandbox_hosts=context.sandbox_hosts,
            )
        except ValueError as exc:
            return self._not_run("loopback-only", str(exc))
        with client:
            document = client.send("GET", "/openapi.json").json()
            if not isinstance(document, dict) or not openapi_operations(document):
                return self._not_run("openapi-unusable", "GET /openapi.json gave no operations")
            documented = openapi_operations(document)
            token, auth_findings = self._log_in(client, context, document)
        known = {f"{method} {path}" for path, methods in documented.items() for method in methods}
        selected = [check.name for check in config.active_checks]
        with tempfile.TemporaryDirectory(prefix="harness-fuzz-") as scratch:
            workdir = Path(scratch)
            outcome = run_schemathesis(context.base_url, config.run, selected, token, workdir)
            events_path = workdir / "events.ndjson"
            record = RunRecord()
            if events_path.exists():
                with events_path.open(encoding="utf-8", errors="replace") as lines:
                    record = parse_events(lines, known)
                self._keep_artifacts(workdir, context.artifacts_dir)
        return self._score(config, documented, known, record, outcome, token, auth_findings)

    def _not_run(self, check: str, evidence: str) -> GradeResult:
        finding = Finding(
            grader=self.name,
            check=check,
            severity="high",
            message="the fuzzer could not run against this app",
            evidence=evidence,
        )
        return GradeResult(grader=self.name, score=0.0, findings=[finding])

    def _log_in(
        self, client: ProbeClient, context: GradingContext, document: dict[str, Any]
    ) -> tuple[str | None, list[Finding]]:
        """A fresh user's access token where the task has auth, else None."""
        plan = load_probe_plan(context.task.id, document.get("paths") or {})
        if plan.accounts is None or plan.accounts.login is None:
            return None, []
        try:
            account = create_account(
                client, plan.accounts, FUZZ_USER_EMAIL, FUZZ_USER_PASSWORD, "Fuzz Grader"
            )
        except ProbeBudgetExceeded as exc:
            problem = str(exc)
        else:
            if account.access_token:
                return account.access_token, []
            problem = " / ".join(
                exchange.describe(200)
                for exchange in (account.created, account.logged_in)
                if exchange is not None
            )
        finding = Finding(
            grader=self.name,
            check="fuzz-authenticated",
            severity="info",
            message="could not register and log in a fuzz user; fuzzed without credentials",
            evidence=problem,
        )
        return None, [finding]

    def _keep_artifacts(self, workdir: Path, artifacts_dir: Path) -> None:
        """The event stream (gzipped: it holds every request) and schemathesis' output."""
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        with (
            (workdir / "events.ndjson").open("rb") as source,
            gzip.open(artifacts_dir / "fuzz-events.ndjson.gz", "wb", compresslevel=5) as target,
        ):
            shutil.copyfileobj(source, target)
        shutil.copyfile(workdir / "schemathesis.log", artifacts_dir / "fuzz-schemathesis.log")

    def _score(
        self,
        config: FuzzConfig,
        documented: dict[str, set[str]],
        known: set[str],
        record: RunRecord,
        outcome: RunOutcome,
        token: str | None,
        findings: list[Finding],
    ) -> GradeResult:
        failing: dict[tuple[str, str], list[CheckFailure]] = {}
        calibrated: dict[str, list[CheckFailure]] = {}
        for failure in record.failures:
            calibration = calibration_for(failure, config, documented)
            if calibration is not None:
                calibrated.setdefault(calibration.id, []).append(failure)
            elif config.check(failure.check) is not None:
                failing.setdefault((failure.operation, failure.check), []).append(failure)
        tested = record.tested_operations
        cells: dict[str, dict[str, str]] = {}
        total = passed = 0.0
        for operation in sorted(known):
            row = cells.setdefault(operation, {})
            for check in config.active_checks:
                if operation not in tested:
                    row[check.name] = "untested"
                    continue
                total += check.weight
                if (operation, check.name) in failing:
                    row[check.name] = "failed"
                else:
                    passed += check.weight
                    row[check.name] = "passed"
        for (operation, check_name), failures in sorted(failing.items()):
            findings.append(self._failure_finding(config, operation, check_name, failures))
        for calibration_id, failures in sorted(calibrated.items()):
            calibration = next(c for c in config.calibrations if c.id == calibration_id)
            where = sorted({failure.operation for failure in failures})
            findings.append(
                Finding(
                    grader=self.name,
                    check=f"calibrated:{calibration_id}",
                    severity="info",
                    message=f"{len(failures)} {calibration.check} failure(s) calibrated away"
                    f" on {', '.join(where)}",
                    evidence=calibration.reason,
                )
            )
        findings.extend(self._run_findings(known, tested, record, outcome))
        score = passed / total if total else 0.0
        details: dict[str, Any] = {
            "checks": [check.name for check in config.active_checks],
            "cells": cells,
            "operations": len(known),
            "tested_operations": len(tested & known),
            "cases": record.cases,
            "authenticated": token is not None,
            "timed_out": outcome.timed_out,
            "exit_code": outcome.exit_code,
            "run_seconds": round(outcome.seconds, 3),
            "failures": [
                {
                    "operation": failure.operation,
                    "check": failure.check,
                    "code": failure.code,
                    "status": failure.status,
                    "requests": [step.as_dict() for step in failure.steps],
                    "reproduction": failure.reproduction(),
                }
                for failures in failing.values()
                for failure in failures[:1]
            ],
            "calibrated": {key: len(value) for key, value in calibrated.items()},
        }
        return GradeResult(grader=self.name, score=score, findings=findings, details=details)

    def _failure_finding(
        self, config: FuzzConfig, operation: str, check_name: str, failures: list[CheckFailure]
    ) -> Finding:
        spec = config.check(check_name)
        assert spec is not None
        first = failures[0]
        codes = sorted({failure.code for failure in failures})
        severity = spec.severity
        refused = {failure.refused_with for failure in failures}
        if spec.severity_if_refused is not None and None not in refused:
            severity = spec.severity_if_refused
        evidence = (
            f"{first.code} {first.title}: {first.message}\n"
            f"response {first.status}: {first.response_excerpt}\n"
            f"reproduce:\n{first.reproduction()}"
        )
        return Finding(
            grader=self.name,
            check=check_name,
            severity=severity,
            message=f"{operation}: {', '.join(codes)} {first.title}"
            f" ({len(failures)} failing case(s))",
            evidence=evidence,
        )

    def _run_findings(
        self, known: set[str], tested: set[str], record: RunRecord, outcome: RunOutcome
    ) -> list[Finding]:
        findings: list[Finding] = []
        untested = sorted(known - tested)
        if outcome.timed_out or untested:
            findings.append(
                Finding(
                    grader=self.name,
                    check="fuzz-coverage",
                    severity="low",
                    message=(
                        f"the run was cut at the time cap after {outcome.seconds:.1f}s; "
                        if outcome.timed_out
                        else ""
                    )
                    + f"{len(known) - len(untested)} of {len(known)} operations tested",
                    evidence="untested: " + (", ".join(untested) or "none"),
                )
            )
        if record.errors:
            findings.append(
                Finding(
                    grader=self.name,
                    check="fuzz-errors",
                    severity="info",
                    message=f"schemathesis reported {len(record.errors)} error(s)",
                    evidence="\n".join(record.errors[:10]),
                )
            )
        if not tested and outcome.exit_code not in (0, 1):
            findings.append(
                Finding(
                    grader=self.name,
                    check="fuzz-run",
                    severity="high",
                    message=f"schemathesis exited with {outcome.exit_code} and tested nothing",
                    evidence=outcome.log_tail,
                )
            )
        return findings
