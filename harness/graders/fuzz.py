"""fuzz: schemathesis against the task's contract, on the live app.

schemathesis runs as a subprocess (`python -m schemathesis.cli run`) on the task's own
contract document (tasks/<task>/grading/openapi.yaml, written into the run's scratch
folder), never on the app's `/openapi.json`, which an app may trim or hide routes from;
every request goes to the app's base URL. It is seeded and derandomized and bounded in
cases and steps (max examples, stateful steps); a wall-clock cap is only a safety net,
and a run it cuts is marked incomplete. Where the task has auth, a fresh user with a
random email and password is registered and logged in over HTTP first and its Bearer
token is sent with every request (`ignored_auth` then re-sends requests without it on
purpose). Its traffic looks like the hidden tests' (harness/graders/fuzz_hooks.py): their
User-Agent, no schemathesis marker header, no capability probes; redirects are followed
as every grader follows them (at most MAX_REDIRECTS, within the app's origin).

Score: the share of scored (operation x check) cells that pass, weighted per check.
Which checks apply to which contract operation, and when a check counts as having run,
is harness/graders/fuzz_cells.py with the rules and exceptions of
harness/graders/calibration/fuzz.yaml. A cell fails when the operation is not implemented
(`context.contract_coverage()`), when the operation never answered a 2xx (nothing of it
was exercised), when the check never ran on it, or when it saw an uncalibrated failure
whose request carries no extreme input (harness/graders/extreme_inputs.py: those belong to the
robustness grader and are reported as info). Nothing implemented: schemathesis does not
run and the score is 0.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.core.settings import CACHE_DIR
from harness.graders.base import Finding, Grader, GradeResult, GradingContext, Severity
from harness.graders.digest import files_digest
from harness.graders.extreme_inputs import ExtremeHit, classify_request
from harness.graders.fuzz_cells import (
    AppliesTo,
    CellState,
    ContractOperation,
    RecordedCase,
    applies,
    contract_operations,
    documented_statuses,
    ran_on,
)
from harness.graders.fuzz_hooks import ORIGIN_ENV, USER_AGENT_ENV, origin
from harness.graders.probes import ProbeBudgetExceeded, ProbeClient, create_account, load_probe_plan
from harness.graders.probes.client import MAX_REDIRECTS, NEUTRAL_USER_AGENT
from harness.graders.probes.plan import plans_paths

GRADERS_DIR = Path(__file__).resolve().parent
CONFIG_PATH = GRADERS_DIR / "calibration" / "fuzz.yaml"
HOOKS_PATH = GRADERS_DIR / "fuzz_hooks.py"
EXTREME_INPUTS_PATH = GRADERS_DIR / "extreme_inputs.py"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Calibration may never touch these: a 5xx or a response breaking its own schema is real.
NEVER_CALIBRATED = frozenset({"not_a_server_error", "response_schema_conformance"})
EXCERPT_CHARS = 400
MAX_CHAIN = 8
_PROBE_STATUS = re.compile(r"Expected 401 or 403, got `(\d{3})")
_NAMES = ("Alex", "Sam", "Robin", "Jordan", "Kim", "Lee", "Maria", "Noor", "Taylor", "Yuki")


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
            # The traffic neutraliser (harness/graders/fuzz_hooks.py), loaded by schemathesis.
            f"hooks = {json.dumps(str(HOOKS_PATH))}",
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


class NotApplicable(_Strict):
    """A cell a check's rule selects but that cannot run reliably on the reference."""

    task: str
    operation: str
    why: str = Field(min_length=1)


class CheckSpec(_Strict):
    name: str
    codes: list[str] = Field(min_length=1)
    severity: Severity
    weight: float = Field(gt=0)
    why: str = Field(min_length=1)
    # Which contract operations the check judges (harness/graders/fuzz_cells.py), and why.
    applies_to: AppliesTo
    applies_why: str = Field(min_length=1)
    not_applicable: list[NotApplicable] = []
    # unsupported_method & co. only judge the coverage phase's negative scenarios.
    needs_negative_coverage: bool = False
    # ignored_auth: when the credential-less request was refused, only not with 401/403.
    severity_if_refused: Severity | None = None
    # `unscored`: a cell that never ran is reported, not failed, because whether the
    # check gets to run depends on the fuzzer's exploration, not on the app (say why).
    when_never_ran: Literal["failed", "unscored"] = "failed"
    when_never_ran_why: str = ""

    def applies_to_operation(
        self, task_id: str, operation: ContractOperation, document: Mapping[str, Any]
    ) -> bool:
        excepted = any(
            item.task == task_id and item.operation == operation.label
            for item in self.not_applicable
        )
        return not excepted and applies(self.applies_to, operation, document)


class ExcludedCheck(_Strict):
    name: str
    reason: str = Field(min_length=1)


class Calibration(_Strict):
    id: str
    check: str
    codes: list[str] = Field(min_length=1)
    rule: Literal["allow-subset-of-documented"]
    reason: str = Field(min_length=1)


class Unreachable(_Strict):
    """An operation whose 2xx generated requests cannot reach (credited without one)."""

    task: str
    operation: str
    why: str = Field(min_length=1)


class FuzzConfig(_Strict):
    run: RunSettings
    checks: list[CheckSpec] = Field(min_length=1)
    unreachable: list[Unreachable] = []
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

    def must_reach(self, task_id: str, operation: str) -> bool:
        return not any(
            item.task == task_id and item.operation == operation for item in self.unreachable
        )


@cache
def load_config(path: Path = CONFIG_PATH) -> FuzzConfig:
    return FuzzConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def fuzz_data_files() -> tuple[Path, ...]:
    """Every global data file the grader reads (its calibration, the probe plans it takes
    the fuzz user's account from, and the extreme-input classes it shares with the
    robustness grader): declared as its `data_files`, so a grade cached under an older
    file is not reused. Task files are in the task's own hash."""
    return (CONFIG_PATH, EXTREME_INPUTS_PATH, *plans_paths())


def data_digest() -> str:
    """A short hash of `fuzz_data_files` (what the grader's version folds)."""
    return files_digest(fuzz_data_files())


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

    @property
    def extreme_input(self) -> list[ExtremeHit]:
        """The extreme values the failing request carried (the robustness grader's)."""
        if not self.steps:
            return []
        sent = self.steps[-1]
        return classify_request(sent.url, sent.headers, sent.body)


@dataclass
class RunRecord:
    """What one schemathesis run saw, per operation and check."""

    # How many cases each check judged per operation (schemathesis' bookkeeping) ...
    ran: dict[tuple[str, str], int] = field(default_factory=dict)
    # ... and the cells where it really ran (harness/graders/fuzz_cells.py: ran_on).
    exercised: set[tuple[str, str]] = field(default_factory=set)
    # Operations that answered at least one of their own requests with a 2xx.
    reached: set[str] = field(default_factory=set)
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


def parse_events(
    lines: Iterator[str], known: set[str], documented: Mapping[str, frozenset[str]] | None = None
) -> RunRecord:
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
                _fold_scenario(record, payload.get("recorder") or {}, known, documented or {})
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


def _fold_scenario(
    record: RunRecord,
    recorder: dict[str, Any],
    known: set[str],
    documented: Mapping[str, frozenset[str]],
) -> None:
    cases: dict[str, Any] = recorder.get("cases") or {}
    interactions: dict[str, Any] = recorder.get("interactions") or {}
    label = recorder.get("label")
    fallback = label if isinstance(label, str) and label in known else None
    recorded = {
        case_id: _recorded_case(case_id, node, interactions, known, fallback)
        for case_id, node in cases.items()
    }
    record.reached.update(
        case.operation
        for case in recorded.values()
        if case.operation == f"{case.method} {case.path}"
        and case.status is not None
        and 200 <= case.status < 300
    )
    for case_id, checks in (recorder.get("checks") or {}).items():
        case = recorded.get(case_id)
        if case is None or case.operation is None:
            continue
        record.cases += 1
        for check in checks:
            name = check.get("name")
            status = check.get("status")
            if not isinstance(name, str) or status not in ("success", "failure"):
                continue
            failure = ((check.get("failure_info") or {}).get("failure")) or {}
            named = failure.get("operation")
            where = named if isinstance(named, str) and named in known else case.operation
            record.ran[(where, name)] = record.ran.get((where, name), 0) + 1
            if status == "failure":
                record.exercised.add((where, name))
                record.failures.append(_failure(where, name, failure, case_id, cases, interactions))
            else:
                ran = ran_on(name, case, recorded, documented)
                record.exercised.update((operation, name) for operation in ran)


def _recorded_case(
    case_id: str,
    node: dict[str, Any],
    interactions: dict[str, Any],
    known: set[str],
    fallback: str | None,
) -> RecordedCase:
    value = node.get("value") or {}
    method = str(value.get("method", "")).upper()
    path = str(value.get("path", ""))
    own = f"{method} {path}"
    response = (interactions.get(case_id) or {}).get("response") or {}
    status = response.get("status_code")
    parameters = value.get("path_parameters")
    return RecordedCase(
        id=case_id,
        parent_id=node.get("parent_id"),
        operation=own if own in known else fallback,
        method=method,
        path=path,
        path_parameters=parameters if isinstance(parameters, dict) else {},
        status=status if isinstance(status, int) else None,
        transition_applied=bool(node.get("is_transition_applied")),
    )


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
    base_url: str,
    schema_path: Path,
    settings: RunSettings,
    checks: list[str],
    token: str | None,
    workdir: Path,
) -> RunOutcome:
    """One `schemathesis run` of the document at `schema_path` against `base_url`, in its
    own session, killed at the time cap (a safety net: the run is bounded in cases)."""
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
        str(schema_path),
        # Every request goes to the app's own loopback URL, whatever `servers` the
        # document lists; redirects are followed as every grader follows them (the
        # hooks refuse any that leaves the app's origin).
        "--url",
        base_url,
        "--max-redirects",
        str(MAX_REDIRECTS),
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
        USER_AGENT_ENV: NEUTRAL_USER_AGENT,
        ORIGIN_ENV: origin(base_url),
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


@dataclass(frozen=True)
class GradePlan:
    """What one grade scores: the contract's operations, which are implemented, and the
    checks that apply to each."""

    operations: dict[str, ContractOperation]
    implemented: list[str]
    missing: dict[str, str]  # operation -> why it counts as not implemented
    applicable: dict[str, set[str]]  # operation -> names of the checks that apply
    must_reach: set[str]  # operations credited only when they answered a 2xx
    # Checks whose cells that never ran are reported, not failed (when_never_ran).
    unscored_when_never_ran: frozenset[str] = frozenset()

    @classmethod
    def build(cls, config: FuzzConfig, context: GradingContext) -> GradePlan:
        document = context.task.contract_document
        operations = contract_operations(document)
        coverage = context.contract_coverage()
        implemented = [label for label in operations if coverage.covers(label)]
        missing = {
            label: coverage.missing.get(label, "not implemented")
            for label in operations
            if label not in implemented
        }
        applicable = {
            label: {
                check.name
                for check in config.active_checks
                if check.applies_to_operation(context.task.id, operation, document)
            }
            for label, operation in operations.items()
        }
        must_reach = {label for label in operations if config.must_reach(context.task.id, label)}
        unscored = frozenset(
            check.name for check in config.active_checks if check.when_never_ran == "unscored"
        )
        return cls(operations, implemented, missing, applicable, must_reach, unscored)


@dataclass
class Verdicts:
    """The run's failures sorted by what they mean for the score."""

    failing: dict[tuple[str, str], list[CheckFailure]] = field(default_factory=dict)
    extreme: dict[tuple[str, str], list[CheckFailure]] = field(default_factory=dict)
    calibrated: dict[str, list[CheckFailure]] = field(default_factory=dict)

    @classmethod
    def sort(
        cls, failures: list[CheckFailure], config: FuzzConfig, documented: dict[str, set[str]]
    ) -> Verdicts:
        verdicts = cls()
        for failure in failures:
            calibration = calibration_for(failure, config, documented)
            cell = (failure.operation, failure.check)
            if calibration is not None:
                verdicts.calibrated.setdefault(calibration.id, []).append(failure)
            elif config.check(failure.check) is None:
                continue
            elif failure.extreme_input:
                verdicts.extreme.setdefault(cell, []).append(failure)
            else:
                verdicts.failing.setdefault(cell, []).append(failure)
        return verdicts


def cell_state(
    operation: str, check: str, plan: GradePlan, record: RunRecord, verdicts: Verdicts
) -> CellState:
    """One cell's verdict. A failure found is never dropped, even where the check's rule
    does not require it to run."""
    if (operation, check) in verdicts.failing:
        return "failed"
    if check not in plan.applicable.get(operation, set()):
        return "not-applicable"
    if operation in plan.missing:
        return "not-implemented"
    if operation in plan.must_reach and operation not in record.reached:
        return "not-reached"
    if (operation, check) in record.exercised:
        return "passed"
    return "not-exercised" if check in plan.unscored_when_never_ran else "never-ran"


def contract_subset(document: Mapping[str, Any], keep: list[str]) -> dict[str, Any]:
    """The contract document with only the `keep` operations (`METHOD /path`)."""
    paths: dict[str, Any] = {}
    for path, item in (document.get("paths") or {}).items():
        kept = {
            key: value
            for key, value in item.items()
            if key not in HTTP_METHODS or f"{key.upper()} {path}" in keep
        }
        if any(key in HTTP_METHODS for key in kept):
            paths[path] = kept
    return {**document, "paths": paths}


def fuzz_identity() -> tuple[str, str, str]:
    """A fresh user per grade (email, password, full name): nothing an app could match."""
    email = f"{secrets.token_hex(8)}@example.com"
    password = f"{secrets.token_urlsafe(12)}-{secrets.randbelow(100)}"
    name = f"{secrets.choice(_NAMES)} {secrets.choice(_NAMES)}son"
    return email, password, name


class FuzzGrader(Grader):
    name = "fuzz"
    # 3: the task's contract document, coverage gating, cells that never ran fail,
    # extreme input left to robustness, neutral traffic, redirects followed.
    # 4: its probe client retries once on a kept-alive connection the app closed.
    version = "4"
    needs_live_app = True
    fresh_app = True
    weight = 1.0
    order = 60  # on a fresh app, after the hidden tests and the static graders
    coverage_scaled = False
    data_files = fuzz_data_files()

    def grade(self, context: GradingContext) -> GradeResult:
        config = load_config()
        assert context.base_url is not None
        plan = GradePlan.build(config, context)
        if not plan.implemented:
            return self._score(config, plan, RunRecord(), None, None, [], context)
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
            token, auth_findings = self._log_in(client, context)
        record, outcome = self._run(config, plan, context, token)
        return self._score(config, plan, record, outcome, token, auth_findings, context)

    def _run(
        self, config: FuzzConfig, plan: GradePlan, context: GradingContext, token: str | None
    ) -> tuple[RunRecord, RunOutcome]:
        """schemathesis on the implemented part of the contract; its artifacts kept."""
        assert context.base_url is not None
        document = context.task.contract_document
        selected = [check.name for check in config.active_checks]
        with tempfile.TemporaryDirectory(prefix="harness-fuzz-") as scratch:
            workdir = Path(scratch)
            schema_path = workdir / "contract.json"
            subset = contract_subset(document, plan.implemented)
            schema_path.write_text(json.dumps(subset, default=str), encoding="utf-8")
            outcome = run_schemathesis(
                context.base_url, schema_path, config.run, selected, token, workdir
            )
            events_path = workdir / "events.ndjson"
            if not events_path.exists():
                return RunRecord(), outcome
            with events_path.open(encoding="utf-8", errors="replace") as lines:
                record = parse_events(lines, set(plan.operations), documented_statuses(document))
            self._keep_artifacts(workdir, context.artifacts_dir)
        return record, outcome

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
        self, client: ProbeClient, context: GradingContext
    ) -> tuple[str | None, list[Finding]]:
        """A fresh user's access token where the task has auth, else None."""
        plan = load_probe_plan(context.task.id, context.task.root.parent)
        if plan.accounts is None or plan.accounts.login is None:
            return None, []
        try:
            account = create_account(client, plan.accounts, *fuzz_identity())
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
        plan: GradePlan,
        record: RunRecord,
        outcome: RunOutcome | None,
        token: str | None,
        findings: list[Finding],
        context: GradingContext,
    ) -> GradeResult:
        documented = openapi_operations(context.task.contract_document)
        verdicts = Verdicts.sort(record.failures, config, documented)
        cells: dict[str, dict[str, CellState]] = {
            operation: {
                check.name: cell_state(operation, check.name, plan, record, verdicts)
                for check in config.active_checks
            }
            for operation in plan.operations
        }
        total = passed = 0.0
        for row in cells.values():
            for check_name, state in row.items():
                weight = self._weight(config, check_name)
                if state not in ("not-applicable", "not-exercised"):
                    total += weight
                    passed += weight if state == "passed" else 0.0
        findings = [*findings, *self._cell_findings(config, plan, cells, verdicts)]
        findings.extend(self._run_findings(config, plan, record, outcome))
        score = passed / total if total else 0.0
        details = self._details(config, plan, cells, record, outcome, token, verdicts)
        return GradeResult(grader=self.name, score=score, findings=findings, details=details)

    @staticmethod
    def _weight(config: FuzzConfig, check_name: str) -> float:
        spec = config.check(check_name)
        assert spec is not None
        return spec.weight

    def _cell_findings(
        self,
        config: FuzzConfig,
        plan: GradePlan,
        cells: dict[str, dict[str, CellState]],
        verdicts: Verdicts,
    ) -> list[Finding]:
        findings: list[Finding] = []
        if plan.missing:
            findings.append(self._missing_finding(plan))
        for (operation, check_name), failures in sorted(verdicts.failing.items()):
            findings.append(self._failure_finding(config, operation, check_name, failures))
        findings.extend(self._unran_findings(config, cells))
        unreached = [op for op, row in cells.items() if "not-reached" in row.values()]
        if unreached:
            findings.append(self._unreached_finding(unreached))
        for (operation, check_name), failures in sorted(verdicts.extreme.items()):
            findings.append(self._extreme_finding(operation, check_name, failures))
        for calibration_id, failures in sorted(verdicts.calibrated.items()):
            findings.append(self._calibrated_finding(config, calibration_id, failures))
        return findings

    def _missing_finding(self, plan: GradePlan) -> Finding:
        count = len(plan.operations)
        return Finding(
            grader=self.name,
            check="operation-not-implemented",
            severity="high",
            message=f"{len(plan.missing)} of {count} contract operations not implemented; "
            "each counts as failed in every cell",
            evidence="\n".join(f"{operation}: {why}" for operation, why in plan.missing.items()),
        )

    def _unreached_finding(self, operations: list[str]) -> Finding:
        return Finding(
            grader=self.name,
            check="operation-not-reached",
            severity="medium",
            message=f"{len(operations)} operation(s) never answered a 2xx to generated "
            f"requests: {', '.join(operations)}; each counts as failed in every cell",
            evidence="An operation that only ever refused (4xx) was never exercised past "
            "its refusals: nothing of it was tested.",
        )

    def _unran_findings(
        self, config: FuzzConfig, cells: dict[str, dict[str, CellState]]
    ) -> list[Finding]:
        """One finding per check with cells that never ran: failed ("never-ran") or, for
        the checks whose running depends on the exploration, reported ("not-exercised")."""
        findings: list[Finding] = []
        for check in config.active_checks:
            for state in ("never-ran", "not-exercised"):
                where = [op for op, row in cells.items() if row.get(check.name) == state]
                if not where:
                    continue
                scored = state == "never-ran"
                findings.append(
                    Finding(
                        grader=self.name,
                        check=state,
                        severity="medium" if scored else "info",
                        message=f"{check.name} never ran on {', '.join(where)}; "
                        + ("counted as failed" if scored else "not scored"),
                        evidence=f"{check.name} applies there: {check.applies_why}"
                        if scored
                        else check.when_never_ran_why,
                    )
                )
        return findings

    def _extreme_finding(
        self, operation: str, check_name: str, failures: list[CheckFailure]
    ) -> Finding:
        first = failures[0]
        kinds = sorted({hit.describe() for failure in failures for hit in failure.extreme_input})
        return Finding(
            grader=self.name,
            check="extreme-input",
            severity="info",
            message=f"{operation}: {len(failures)} {check_name} failure(s) on extreme input, "
            "counted by the robustness grader",
            evidence=f"{'; '.join(kinds[:10])}\n{first.code} {first.title}: {first.message}\n"
            f"response {first.status}: {first.response_excerpt}\n"
            f"reproduce:\n{first.reproduction()}",
        )

    def _calibrated_finding(
        self, config: FuzzConfig, calibration_id: str, failures: list[CheckFailure]
    ) -> Finding:
        calibration = next(c for c in config.calibrations if c.id == calibration_id)
        where = sorted({failure.operation for failure in failures})
        return Finding(
            grader=self.name,
            check=f"calibrated:{calibration_id}",
            severity="info",
            message=f"{len(failures)} {calibration.check} failure(s) calibrated away"
            f" on {', '.join(where)}",
            evidence=calibration.reason,
        )

    def _details(
        self,
        config: FuzzConfig,
        plan: GradePlan,
        cells: dict[str, dict[str, CellState]],
        record: RunRecord,
        outcome: RunOutcome | None,
        token: str | None,
        verdicts: Verdicts,
    ) -> dict[str, Any]:
        tested = record.tested_operations & set(plan.operations)
        return {
            "checks": [check.name for check in config.active_checks],
            "cells": cells,
            "operations": len(plan.operations),
            "implemented": len(plan.implemented),
            "not_implemented": plan.missing,
            "tested_operations": len(tested),
            "reached_operations": sorted(record.reached & set(plan.operations)),
            "cases": record.cases,
            "authenticated": token is not None,
            "ran": outcome is not None,
            "timed_out": outcome is not None and outcome.timed_out,
            "incomplete": outcome is not None and (outcome.timed_out or not record.finished),
            "exit_code": outcome.exit_code if outcome is not None else None,
            "run_seconds": round(outcome.seconds, 3) if outcome is not None else 0.0,
            "failures": [self._failure_detail(f[0]) for f in verdicts.failing.values()],
            "extreme_input": [self._extreme_detail(f[0]) for f in verdicts.extreme.values()],
            "calibrated": {key: len(value) for key, value in verdicts.calibrated.items()},
        }

    @classmethod
    def _extreme_detail(cls, failure: CheckFailure) -> dict[str, Any]:
        classes = [hit.describe() for hit in failure.extreme_input]
        return {**cls._failure_detail(failure), "classes": classes}

    @staticmethod
    def _failure_detail(failure: CheckFailure) -> dict[str, Any]:
        return {
            "operation": failure.operation,
            "check": failure.check,
            "code": failure.code,
            "status": failure.status,
            "requests": [step.as_dict() for step in failure.steps],
            "reproduction": failure.reproduction(),
        }

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
        self,
        config: FuzzConfig,
        plan: GradePlan,
        record: RunRecord,
        outcome: RunOutcome | None,
    ) -> list[Finding]:
        findings: list[Finding] = []
        if outcome is None:
            findings.append(
                Finding(
                    grader=self.name,
                    check="fuzz-not-run",
                    severity="info",
                    message="not fuzzed: the app implements none of the contract's operations",
                )
            )
            return findings
        if outcome.timed_out or not record.finished:
            findings.append(
                Finding(
                    grader=self.name,
                    check="fuzz-incomplete",
                    severity="medium",
                    message=(
                        f"the run was cut at its {config.run.timeout_s:.0f}s safety cap"
                        if outcome.timed_out
                        else "the run did not finish"
                    )
                    + f" after {record.cases} cases; cells that never ran count as failed",
                    evidence=outcome.log_tail,
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
        if not record.tested_operations and outcome.exit_code not in (0, 1):
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
