"""The fuzz grader on real apps and real databases: every task's reference scores 1.0 on
both engines and every null app 0; the run follows the task's contract document, not the
app's; planted 500s and schema violations are found with a reproduction that works when
sent again; extreme input is left to the robustness grader; the traffic carries nothing
that names schemathesis and a fresh random user; calibration never hides a 5xx or a
schema violation; and grading one sample five times gives the same score. Units cover
the extreme-input classes and the cell rules."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import harness.graders.fuzz
from harness.core.records import SampleResult
from harness.core.tasks import Task, list_task_ids, load_task
from harness.graders import fuzz_cells
from harness.graders.base import GradeResult, GradingContext
from harness.graders.contract import ContractCoverage
from harness.graders.extreme_inputs import (
    HUGE_OFFSET,
    INT32_MAX,
    INT32_MIN,
    OFFSET_PARAMETERS,
    OVERSIZED_STRING_CHARS,
    ExtremeInput,
    classify_request,
)
from harness.graders.fuzz import (
    CheckFailure,
    FuzzConfig,
    FuzzGrader,
    GradePlan,
    RunOutcome,
    RunRecord,
    SentRequest,
    calibration_for,
    contract_subset,
    curl_command,
    data_digest,
    fuzz_identity,
    load_config,
    parse_events,
)
from harness.graders.fuzz_cells import RecordedCase, applies, contract_operations
from harness.graders.fuzz_hooks import forged_credential, neutral_headers, origin
from harness.graders.probes.client import NEUTRAL_USER_AGENT
from harness.grading.null_agents import NULL_AGENTS, null_agent_files
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

KINDS = ["postgres", "mysql"]
TASKS = {task_id: load_task(task_id) for task_id in list_task_ids()}
# Real defects the fuzzer finds in a reference: reported, never calibrated away; the
# strict xfail turns red once the reference is fixed, to drop the entry.
KNOWN_REFERENCE_DEFECTS: dict[str, str] = {}
# Grades run side by side where each is mostly waiting on its app and its database.
PARALLEL_GRADES = 3


_grade = partial(grade_files, graders=("boot", "fuzz"), must_boot=True)


@contextmanager
def live_app(
    task: Task, files: dict[str, str], server: DatabaseServer, runtime: Runtime, folder: Path
) -> Iterator[GradingContext]:
    """A booted app and its grading context (outside the pipeline: every contract
    operation counts as implemented), kept up while the test looks at it."""
    database = server.create_sample_database(f"{task.id}_live")
    secret = secrets.token_urlsafe(32) if task.spec.needs_jwt_secret else None
    app = runtime.make_app(files, database, folder / "app.log", secret)
    try:
        outcome = app.start(30)
        assert outcome.ok, outcome.error
        yield _context(task, folder, app.base_url, database.kind, secret)
    finally:
        app.stop()
        server.drop_sample_database(database)


def _context(
    task: Task,
    folder: Path,
    base_url: str = "http://127.0.0.1:9",
    kind: str = "postgres",
    secret: str | None = None,
    coverage: ContractCoverage | None = None,
) -> GradingContext:
    return GradingContext(
        task=task,
        files={},
        files_dir=folder,
        artifacts_dir=folder,
        database_kind=kind,
        database_url="",
        database_user="",
        admin_database_url="",
        base_url=base_url,
        booted=True,
        boot_error=None,
        jwt_secret=secret,
        coverage=coverage,
    )


def _failed_cells(grade: GradeResult) -> set[tuple[str, str]]:
    return {
        (operation, check)
        for operation, row in grade.details["cells"].items()
        for check, state in row.items()
        if state in ("failed", "never-ran", "not-implemented")
    }


def _edited(files: dict[str, str], name: str, find: str, replace: str) -> dict[str, str]:
    assert find in files[name], f"{name} no longer holds {find!r}: update the test"
    return {**files, name: files[name].replace(find, replace)}


def _fuzz_grade(folder: Path) -> GradeResult:
    return GradeResult.model_validate_json((folder / "grade-fuzz.json").read_text())


# -- units: configuration, events, reproductions ------------------------------------------


def test_config_loads_and_calibration_may_not_touch_5xx_or_schema_checks() -> None:
    config = load_config()
    assert {"not_a_server_error", "response_schema_conformance"} <= {
        check.name for check in config.active_checks
    }
    assert all(calibration.reason for calibration in config.calibrations)
    assert all(check.applies_why and check.why for check in config.checks)
    data = config.model_dump()
    data["calibrations"] = [
        {**data["calibrations"][0], "check": "not_a_server_error", "codes": ["ST101"]}
    ]
    with pytest.raises(ValidationError, match="may not touch"):
        FuzzConfig.model_validate(data)


def test_not_applicable_exceptions_name_cells_their_rule_selects() -> None:
    """A stale exception (a renamed operation, a changed contract) fails here, not
    silently."""
    for check in load_config().checks:
        for item in check.not_applicable:
            document = TASKS[item.task].contract_document
            operation = contract_operations(document).get(item.operation)
            assert operation is not None, (check.name, item.task, item.operation)
            assert applies(check.applies_to, operation, document), (check.name, item)


def test_unreachable_exceptions_name_contract_operations() -> None:
    for item in load_config().unreachable:
        assert item.operation in TASKS[item.task].contract_operations(), item


def test_version_carries_a_digest_of_the_data_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert FuzzGrader.cache_version().endswith("+" + data_digest())
    copy = tmp_path / "fuzz.yaml"
    copy.write_text(harness.graders.fuzz.CONFIG_PATH.read_text())
    monkeypatch.setattr(harness.graders.fuzz, "CONFIG_PATH", copy)
    before = data_digest()
    copy.write_text(copy.read_text() + "\n# edited\n")
    assert data_digest() != before


def test_calibration_never_explains_away_a_server_error() -> None:
    config = load_config()
    documented = {"/users": {"GET", "POST"}}
    failure = CheckFailure(
        operation="POST /users",
        check="allow_header_conformance",
        code="ST205",
        title="Allow header mismatch",
        message="",
        status=405,
        response_excerpt="",
        allow=["POST"],
        steps=[],
    )
    assert calibration_for(failure, config, documented) is not None
    failure.status = 500
    assert calibration_for(failure, config, documented) is None
    failure.status, failure.allow = 405, ["POST", "PUT"]
    assert calibration_for(failure, config, documented) is None


def _body(data: str) -> dict[str, str]:
    return {"$base64": base64.b64encode(data.encode()).decode()}


def test_events_fold_into_cells_with_the_stateful_chain() -> None:
    scenario = {
        "label": "Stateful tests",
        "cases": {
            "p1": {"value": {"method": "POST", "path": "/users"}},
            "c1": {
                "value": {"method": "GET", "path": "/users/{id}", "path_parameters": {"id": 1}},
                "parent_id": "p1",
                "is_transition_applied": True,
            },
        },
        "checks": {
            "p1": [{"name": "not_a_server_error", "status": "success"}],
            "c1": [
                {
                    "name": "not_a_server_error",
                    "status": "failure",
                    "failure_info": {"failure": {"code": "ST101", "title": "Server error"}},
                },
                {"name": "ensure_resource_availability", "status": "success"},
            ],
        },
        "interactions": {
            "p1": {
                "request": {"method": "POST", "uri": "http://x/users", "body": _body("{}")},
                "response": {"status_code": 201},
            },
            "c1": {
                "request": {"method": "GET", "uri": "http://x/users/1"},
                "response": {"status_code": 500, "content": _body("Internal Server Error")},
            },
        },
    }
    lines = [json.dumps({"ScenarioFinished": {"recorder": scenario}}), '{"EngineFini']
    record = parse_events(iter(lines), {"POST /users", "GET /users/{id}"})
    assert record.ran == {
        ("POST /users", "not_a_server_error"): 1,
        ("GET /users/{id}", "not_a_server_error"): 1,
        ("GET /users/{id}", "ensure_resource_availability"): 1,
    }
    # ensure_resource_availability ran for the POST that created what c1 read.
    assert record.exercised == {
        ("POST /users", "not_a_server_error"),
        ("GET /users/{id}", "not_a_server_error"),
        ("POST /users", "ensure_resource_availability"),
    }
    assert record.reached == {"POST /users"}  # the GET only ever answered 500
    assert not record.finished
    (failure,) = record.failures
    assert failure.operation == "GET /users/{id}" and failure.status == 500
    assert [step.method for step in failure.steps] == ["POST", "GET"]
    assert failure.reproduction().splitlines()[0].startswith("curl -sS -X POST")


def test_curl_lines_carry_bytes_exactly(tmp_path: Path) -> None:
    """bash hands curl exactly the bytes schemathesis sent (quotes, UTF-8, control bytes)."""
    script = tmp_path / "argv.py"
    script.write_text(
        "import json, os, sys\nprint(json.dumps([os.fsencode(a).hex() for a in sys.argv[1:]]))\n"
    )
    body = '{"name": "it\'s \\u00e9 \u00e9", "path": "C:\\\\x"}'.encode() + b"\x01\xff"
    request = SentRequest("POST", "http://127.0.0.1:9/x?q=a%20b", {"X-T": "v'1 \u00e9"}, body)
    line = curl_command(request).replace("curl", f"python3 {script}", 1)
    shown = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True)
    argv = [bytes.fromhex(arg) for arg in json.loads(shown.stdout)]
    assert argv[-1] == body
    assert "X-T: v'1 \u00e9".encode() in argv
    assert b"http://127.0.0.1:9/x?q=a%20b" in argv
    nul = SentRequest("POST", "http://127.0.0.1:9/x", {}, b'{"a": "\x00"}')
    piped = curl_command(nul).replace("curl", f"python3 {script}", 1)
    assert piped.startswith("printf '") and piped.endswith("--data-binary @-")
    printed = subprocess.run(["bash", "-c", piped.split(" | ")[0]], capture_output=True, check=True)
    assert printed.stdout == b'{"a": "\x00"}'


def test_traffic_is_neutral_and_the_fuzz_user_random() -> None:
    headers = {"User-Agent": "schemathesis/4", "X-Schemathesis-TestCaseId": "a1", "X-A": "1"}
    neutral_headers(headers, NEUTRAL_USER_AGENT)
    assert headers == {"User-Agent": NEUTRAL_USER_AGENT, "X-A": "1"}
    # the hooks send nothing outside the app's origin (a redirect elsewhere is refused)
    assert origin("http://127.0.0.1:8000/users/?a=1") == "http://127.0.0.1:8000"
    assert origin("HTTP://LocalHost:8000/") != origin("http://127.0.0.1:8000/")
    assert len({forged_credential() for _ in range(5)}) == 5
    identities = {fuzz_identity() for _ in range(20)}
    assert len({email for email, _, _ in identities}) == 20
    assert len({password for _, password, _ in identities}) == 20
    assert all(8 <= len(password) <= 128 for _, password, _ in identities)


# -- units: extreme input -------------------------------------------------------------

NUL, INT, OFFSET, LONG, SURROGATE = (
    ExtremeInput.NUL_BYTE,
    ExtremeInput.INTEGER_OUT_OF_RANGE,
    ExtremeInput.HUGE_OFFSET,
    ExtremeInput.OVERSIZED_STRING,
    ExtremeInput.LONE_SURROGATE,
)
BASE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("url", "headers", "body", "expected"),
    [
        # NUL: path, query, header, JSON value and key, raw body
        (f"{BASE}/users/a%00b", {}, None, {NUL}),
        (f"{BASE}/users?search=a%00", {}, None, {NUL}),
        (f"{BASE}/users", {"X-Name": "a\x00"}, None, {NUL}),
        (f"{BASE}/users", {}, b'{"name": "a\\u0000"}', {NUL}),
        (f"{BASE}/users", {}, b'{"a\\u0000": 1}', {NUL}),
        (f"{BASE}/users", {}, b"raw\x00body", {NUL}),
        # integers: int32 bounds exactly, JSON integers, digit strings, leading zeros
        (f"{BASE}/users/{INT32_MAX}", {}, None, set()),
        (f"{BASE}/users/{INT32_MAX + 1}", {}, None, {INT}),
        (f"{BASE}/users?limit={INT32_MIN}", {}, None, set()),
        (f"{BASE}/users?limit={INT32_MIN - 1}", {}, None, {INT}),
        (f"{BASE}/users/00000000000000000001", {}, None, set()),
        (f"{BASE}/users", {}, json.dumps({"stock": 2**63}).encode(), {INT}),
        (f"{BASE}/users", {}, json.dumps({"items": [{"q": -(2**40)}]}).encode(), {INT}),
        (f"{BASE}/users", {}, json.dumps({"stock": "99999999999"}).encode(), {INT}),
        (f"{BASE}/users", {}, b'{"stock": ' + b"9" * 5000 + b"}", {INT}),
        (f"{BASE}/users", {}, b'{"price": 1e20}', set()),
        (f"{BASE}/users", {"Content-Length": "99999999999"}, None, set()),
        # huge offsets: offset/skip only, from HUGE_OFFSET on
        (f"{BASE}/users?offset={HUGE_OFFSET - 1}", {}, None, set()),
        (f"{BASE}/users?offset={HUGE_OFFSET}", {}, None, {OFFSET}),
        (f"{BASE}/users?skip={HUGE_OFFSET}", {}, None, {OFFSET}),
        (f"{BASE}/users?limit={HUGE_OFFSET}", {}, None, set()),
        (f"{BASE}/users?offset=3000000000", {}, None, {OFFSET, INT}),
        # oversized strings
        (f"{BASE}/users?search={'a' * OVERSIZED_STRING_CHARS}", {}, None, set()),
        (f"{BASE}/users?search={'a' * (OVERSIZED_STRING_CHARS + 1)}", {}, None, {LONG}),
        (f"{BASE}/u", {}, json.dumps({"b": "é" * OVERSIZED_STRING_CHARS}).encode(), set()),
        (f"{BASE}/u", {}, json.dumps({"b": "x" * (OVERSIZED_STRING_CHARS + 1)}).encode(), {LONG}),
        (f"{BASE}/u", {}, b"x" * (OVERSIZED_STRING_CHARS + 1), {LONG}),
        # lone surrogates (a valid pair is not one; bytes that are no UTF-8 are not either)
        (f"{BASE}/u", {}, b'{"name": "\\ud800"}', {SURROGATE}),
        (f"{BASE}/u", {}, b'{"name": "\\ud83d\\ude00"}', set()),
        (f"{BASE}/users?search=%ED%A0%80", {}, None, {SURROGATE}),
        (f"{BASE}/users/%ED%B0%80", {}, None, {SURROGATE}),
        (f"{BASE}/users?search=%FF%FE", {}, None, set()),
        # ordinary requests
        (
            f"{BASE}/users?limit=20&offset=0&search=al%C3%A9",
            {"Authorization": "Bearer x"},
            None,
            set(),
        ),
        (f"{BASE}/users", {}, b'{"email": "a@example.com", "age": 42}', set()),
    ],
)
def test_extreme_input_classes(
    url: str, headers: dict[str, str], body: bytes | None, expected: set[ExtremeInput]
) -> None:
    assert {hit.kind for hit in classify_request(url, headers, body)} == expected


def test_extreme_input_hits_say_where() -> None:
    hits = classify_request(f"{BASE}/users/{2**40}?offset={HUGE_OFFSET}", {}, b'{"a": {"b": 1}}')
    assert {hit.describe() for hit in hits} == {
        f"{INT} in path segment 2",
        f"{OFFSET} in query offset",
    }


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_no_contract_bound_reaches_an_extreme_class(task_id: str) -> None:
    """What a contract states as an ordinary bound is never extreme input, so a failure
    on a value the contract bounds is the fuzz grader's to count."""
    for node in _walk(TASKS[task_id].contract_document):
        if isinstance(node.get("maxLength"), int):
            assert node["maxLength"] <= OVERSIZED_STRING_CHARS, node
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                if bound in node:
                    assert INT32_MIN <= node[bound] <= INT32_MAX, node
        if str(node.get("name", "")).lower() in OFFSET_PARAMETERS and node.get("in") == "query":
            assert node.get("schema", {}).get("maximum", 0) < HUGE_OFFSET, node


# -- units: cells ---------------------------------------------------------------------

RULES_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "security": [{"bearer": []}],
    "paths": {
        "/things": {
            "post": {"responses": {}},
            "get": {"security": [], "responses": {}},
        },
        "/things/{id}": {
            "get": {"responses": {}},
            "delete": {"security": [{}, {"bearer": []}], "responses": {}},
            "patch": {
                "parameters": [{"$ref": "#/components/parameters/Required"}],
                "responses": {"200": {"headers": {"ETag": {"schema": {"type": "string"}}}}},
            },
        },
        "/orphans/{id}": {"delete": {"responses": {}}},
    },
    "components": {"parameters": {"Required": {"name": "X-Req", "in": "header", "required": True}}},
}


@pytest.mark.parametrize(
    ("rule", "selected"),
    [
        (
            "every-operation",
            {
                "POST /things",
                "GET /things",
                "GET /things/{id}",
                "DELETE /things/{id}",
                "PATCH /things/{id}",
                "DELETE /orphans/{id}",
            },
        ),
        # `security: []` opts out, `{}` among the alternatives makes credentials optional
        (
            "secured-operations",
            {"POST /things", "GET /things/{id}", "PATCH /things/{id}", "DELETE /orphans/{id}"},
        ),
        # nothing creates or reads an orphan back
        ("deletes-readable-resource", {"DELETE /things/{id}"}),
        ("creates-readable-resource", {"POST /things"}),
        ("documented-response-headers", {"PATCH /things/{id}"}),
        ("required-header-parameters", {"PATCH /things/{id}"}),
    ],
)
def test_cell_rules_select_operations_from_the_contract(rule: Any, selected: set[str]) -> None:
    operations = contract_operations(RULES_DOCUMENT)
    assert {
        label for label, operation in operations.items() if applies(rule, operation, RULES_DOCUMENT)
    } == selected


def _case(
    case_id: str,
    method: str,
    path: str,
    status: int,
    parent: str | None = None,
    linked: bool = False,
    **parameters: Any,
) -> RecordedCase:
    return RecordedCase(
        case_id, parent, f"{method} {path}", method, path, parameters, status, linked
    )


def _scenario(*cases: RecordedCase) -> dict[str, RecordedCase]:
    return {case.id: case for case in cases}


def test_ran_means_the_check_had_something_to_judge() -> None:
    created = _case("p", "POST", "/users", 201)
    deleted = _case("d", "DELETE", "/users/{id}", 204, "p", True, id=5)
    read_back = _case("g", "GET", "/users/{id}", 404, "p", True, id=5)
    other = _case("o", "GET", "/users/{id}", 404, "p", True, id=6)
    flow = _scenario(created, deleted, read_back, other)
    ran_on = partial(fuzz_cells.ran_on, documented={})
    # use_after_free ran for the DELETE: a later read of the same resource in its tree
    assert ran_on("use_after_free", read_back, flow) == ["DELETE /users/{id}"]
    assert ran_on("use_after_free", other, flow) == []
    assert ran_on("use_after_free", deleted, flow) == []
    # ... not when something re-created it in between
    again = _case("p2", "POST", "/users", 201)
    assert ran_on("use_after_free", read_back, _scenario(created, deleted, again, read_back)) == []
    # ... nor when the DELETE failed
    failed = _case("d", "DELETE", "/users/{id}", 404, "p", True, id=5)
    assert ran_on("use_after_free", read_back, _scenario(created, failed, read_back)) == []
    # ensure_resource_availability ran for the POST whose resource a link reached
    # (the DELETE right after it too), not after the resource was deleted
    assert ran_on("ensure_resource_availability", deleted, flow) == ["POST /users"]
    assert ran_on("ensure_resource_availability", read_back, flow) == []
    unlinked = _case("u", "GET", "/users/{id}", 200, "p", False, id=5)
    assert ran_on("ensure_resource_availability", unlinked, _scenario(created, unlinked)) == []
    # ignored_auth judges only a 2xx (it then re-sends without credentials)
    assert ran_on("ignored_auth", _case("a", "GET", "/me", 200), {}) == ["GET /me"]
    assert ran_on("ignored_auth", _case("a", "GET", "/me", 401), {}) == []
    # response checks judge only a status the contract documents for the operation
    documented = {
        "GET /users/{id}": frozenset({"200", "404", "4XX"}),
        "POST /users": frozenset({"201"}),
    }
    crashed = _case("c", "GET", "/users/{id}", 500, id=1)
    wrong = _case("w", "POST", "/users", 200)
    judged = partial(fuzz_cells.ran_on, documented=documented)
    assert judged("response_schema_conformance", other, flow) == ["GET /users/{id}"]
    assert judged("content_type_conformance", crashed, {}) == []
    assert judged("response_schema_conformance", wrong, {}) == []
    in_range = _case("r", "GET", "/users/{id}", 418, id=1)
    assert judged("content_type_conformance", in_range, {}) == ["GET /users/{id}"]
    # every other check ran wherever it judged a response
    assert ran_on("not_a_server_error", crashed, flow) == ["GET /users/{id}"]


def _failure(operation: str, check: str, url: str, status: int = 500) -> CheckFailure:
    return CheckFailure(
        operation=operation,
        check=check,
        code="ST101",
        title="Server error",
        message="",
        status=status,
        response_excerpt="Internal Server Error",
        allow=[],
        steps=[SentRequest("GET", url, {}, None)],
    )


def _score(
    task: Task, folder: Path, record: RunRecord, coverage: ContractCoverage | None = None
) -> GradeResult:
    context = _context(task, folder, coverage=coverage)
    config = load_config()
    plan = GradePlan.build(config, context)
    outcome = RunOutcome(exit_code=0, timed_out=False, seconds=1.0, log_tail="")
    return FuzzGrader()._score(config, plan, record, outcome, None, [], context)


def _every_cell_ran(task: Task) -> RunRecord:
    record = RunRecord(finished=True, reached=set(task.contract_operations()))
    for label in task.contract_operations():
        for check in load_config().active_checks:
            record.exercised.add((label, check.name))
            record.ran[(label, check.name)] = 1
    return record


def test_cells_that_never_ran_or_are_not_implemented_fail(tmp_path: Path) -> None:
    task = TASKS["user-crud"]
    record = _every_cell_ran(task)
    assert _score(task, tmp_path, record).score == 1.0
    # a cell that applies and never ran fails, with a finding that says so
    record.exercised.discard(("GET /users", "response_schema_conformance"))
    grade = _score(task, tmp_path, record)
    assert grade.details["cells"]["GET /users"]["response_schema_conformance"] == "never-ran"
    assert grade.details["cells"]["GET /users"]["use_after_free"] == "not-applicable"
    assert grade.score < 1.0
    assert any(
        f.check == "never-ran" and "response_schema_conformance" in f.message
        for f in grade.findings
    )
    # ... except for the checks whose running depends on the exploration, not the app
    # (use_after_free): reported, not scored.
    record = _every_cell_ran(task)
    record.exercised.discard(("DELETE /users/{id}", "use_after_free"))
    grade = _score(task, tmp_path, record)
    assert grade.details["cells"]["DELETE /users/{id}"]["use_after_free"] == "not-exercised"
    assert grade.score == 1.0
    assert any(f.check == "not-exercised" and f.severity == "info" for f in grade.findings)
    # an operation not implemented fails every cell that applies to it, in one finding
    operations = task.contract_operations()
    partial_coverage = ContractCoverage(
        tuple(operations),
        frozenset(operations) - {"PATCH /users/{id}"},
        {"PATCH /users/{id}": "answers 405"},
        True,
    )
    grade = _score(task, tmp_path, _every_cell_ran(task), partial_coverage)
    row = grade.details["cells"]["PATCH /users/{id}"]
    assert set(row.values()) == {"not-implemented", "not-applicable"}
    (missing,) = [f for f in grade.findings if f.check == "operation-not-implemented"]
    assert missing.severity == "high" and "PATCH /users/{id}: answers 405" in missing.evidence
    assert 0 < grade.score < 1.0


def test_an_operation_that_never_answered_a_2xx_is_not_credited(tmp_path: Path) -> None:
    """An app refusing everything with well-formed 4xx never crashes and never breaks a
    schema; nothing of it was tested, so nothing is credited, except where the contract
    makes a 2xx unreachable for generated requests (fuzz.yaml: unreachable)."""
    task = TASKS["jwt-auth"]
    record = _every_cell_ran(task)
    record.reached = set()
    grade = _score(task, tmp_path, record)
    cells = grade.details["cells"]
    assert set(cells["GET /auth/me"].values()) == {"not-reached", "not-applicable"}
    assert cells["POST /auth/login"]["not_a_server_error"] == "passed"  # unreachable
    assert any(f.check == "operation-not-reached" for f in grade.findings)
    assert grade.score < 0.7


def test_extreme_input_failures_are_left_to_robustness(tmp_path: Path) -> None:
    task = TASKS["user-crud"]
    record = _every_cell_ran(task)
    record.failures = [
        _failure("GET /users/{id}", "not_a_server_error", f"{BASE}/users/{2**40}"),
        _failure("GET /users", "not_a_server_error", f"{BASE}/users?search=a%00"),
    ]
    grade = _score(task, tmp_path, record)
    assert grade.score == 1.0
    extreme = [f for f in grade.findings if f.check == "extreme-input"]
    assert {f.severity for f in extreme} == {"info"} and len(extreme) == 2
    assert all("counted by the robustness grader" in f.message for f in extreme)
    # the same 500 on an ordinary request fails its cell
    record.failures.append(_failure("GET /users/{id}", "not_a_server_error", f"{BASE}/users/7"))
    grade = _score(task, tmp_path, record)
    assert grade.details["cells"]["GET /users/{id}"]["not_a_server_error"] == "failed"


def test_nothing_implemented_is_not_fuzzed_and_scores_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> RunOutcome:
        raise AssertionError("schemathesis must not run")

    monkeypatch.setattr(harness.graders.fuzz, "run_schemathesis", refuse)
    task = TASKS["jwt-auth"]
    nothing = ContractCoverage.none(task.contract_operations(), "the app serves no document")
    grade = FuzzGrader().grade(_context(task, tmp_path, coverage=nothing))
    assert grade.score == 0.0 and grade.details["ran"] is False
    states = {state for row in grade.details["cells"].values() for state in row.values()}
    assert states == {"not-implemented", "not-applicable"}
    assert any(f.check == "operation-not-implemented" for f in grade.findings)


def test_only_implemented_operations_are_fuzzed() -> None:
    document = TASKS["user-crud"].contract_document
    subset = contract_subset(document, ["GET /users", "GET /users/{id}"])
    assert set(contract_operations(subset)) == {"GET /users", "GET /users/{id}"}
    assert subset["components"] == document["components"]


def test_an_incomplete_run_is_marked_and_its_missing_cells_fail(tmp_path: Path) -> None:
    task = TASKS["user-crud"]
    context = _context(task, tmp_path)
    config = load_config()
    plan = GradePlan.build(config, context)
    record = RunRecord(reached={"GET /users"})
    record.exercised.add(("GET /users", "not_a_server_error"))
    cut = RunOutcome(exit_code=None, timed_out=True, seconds=60.0, log_tail="")
    grade = FuzzGrader()._score(config, plan, record, cut, None, [], context)
    assert grade.details["incomplete"] is True
    assert any(f.check == "fuzz-incomplete" for f in grade.findings)
    assert grade.details["cells"]["GET /users"]["not_a_server_error"] == "passed"
    assert grade.details["cells"]["POST /users"]["not_a_server_error"] == "not-reached"
    assert grade.details["cells"]["GET /users"]["content_type_conformance"] == "never-ran"
    assert 0 < grade.score < 0.2


# -- live apps: references and null apps ----------------------------------------------------

REFERENCE_RUNS = [(task_id, kind) for task_id in sorted(TASKS) for kind in KINDS]


@pytest.fixture(scope="module")
def pipeline_grades(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[SampleResult, Path]]:
    """Every reference on both databases and every null app (user-crud, postgres),
    graded through the pipeline (coverage measured) side by side."""
    jobs: dict[tuple[str, str], tuple[Task, dict[str, str], str]] = {
        (task_id, kind): (TASKS[task_id], TASKS[task_id].reference_files(), kind)
        for task_id, kind in REFERENCE_RUNS
    }
    for name in NULL_AGENTS:
        jobs[("null", name)] = (TASKS["user-crud"], null_agent_files(name), "postgres")
    jobs[("stub", "refuse-all")] = (TASKS["user-crud"], {"main.py": REFUSE_ALL}, "postgres")

    # Folders are made before the threads start: pytest's first mktemp is not thread-safe.
    folders = {key: tmp_path_factory.mktemp("-".join(key)) for key in jobs}

    def run(key: tuple[str, str]) -> tuple[SampleResult, Path]:
        task, files, kind = jobs[key]
        folder = folders[key]
        grade = grade_files(task, files, servers[kind], local_runtime, folder, ("boot", "fuzz"))
        return grade, folder

    with ThreadPoolExecutor(max_workers=PARALLEL_GRADES) as pool:
        return dict(zip(jobs, pool.map(run, jobs), strict=True))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param(
            task_id,
            marks=[pytest.mark.xfail(reason=KNOWN_REFERENCE_DEFECTS[task_id], strict=True)]
            if task_id in KNOWN_REFERENCE_DEFECTS
            else [],
        )
        for task_id in sorted(TASKS)
    ],
)
def test_reference_scores_full_marks(
    pipeline_grades: dict[tuple[str, str], tuple[SampleResult, Path]], task_id: str, kind: str
) -> None:
    result, folder = pipeline_grades[(task_id, kind)]
    assert result.infra_error is None, result.infra_error
    fuzz = [f for f in result.findings if f.grader == "fuzz"]
    assert result.scores["fuzz"] == 1.0, [(f.check, f.message, f.evidence[:400]) for f in fuzz]
    assert not [f for f in fuzz if f.severity not in ("info", "low")]
    grade = _fuzz_grade(folder)
    assert grade.details["tested_operations"] == grade.details["operations"]
    assert grade.details["implemented"] == grade.details["operations"]
    assert not grade.details["incomplete"]
    assert "never-ran" not in {s for row in grade.details["cells"].values() for s in row.values()}
    assert (folder / "fuzz-events.ndjson.gz").exists()


@pytest.mark.parametrize("name", sorted(NULL_AGENTS))
def test_null_apps_score_zero(
    pipeline_grades: dict[tuple[str, str], tuple[SampleResult, Path]], name: str
) -> None:
    result, folder = pipeline_grades[("null", name)]
    assert result.infra_error is None, result.infra_error
    assert result.scores["fuzz"] == 0.0
    grade = _fuzz_grade(folder)
    assert grade.details["ran"] is False  # nothing implemented: schemathesis never started
    assert any(f.check == "operation-not-implemented" for f in grade.findings)


# Every contract route, each answering a well-formed 422 to everything: it serves the
# operations (coverage counts them implemented), never crashes, never breaks a schema.
REFUSE_ALL = """from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()
REFUSAL = {"detail": [{"loc": ["body"], "msg": "Field required", "type": "missing"}]}


@app.api_route("/users", methods=["GET", "POST"])
async def users() -> JSONResponse:
    return JSONResponse(REFUSAL, status_code=422)


@app.api_route("/users/{user_id}", methods=["GET", "PATCH", "DELETE"])
async def user(user_id: str) -> JSONResponse:
    return JSONResponse(REFUSAL, status_code=422)
"""


def test_an_app_refusing_everything_scores_zero(
    pipeline_grades: dict[tuple[str, str], tuple[SampleResult, Path]],
) -> None:
    """Nothing of an operation that never answered a 2xx was exercised: no credit."""
    result, folder = pipeline_grades[("stub", "refuse-all")]
    assert result.infra_error is None, result.infra_error
    grade = _fuzz_grade(folder)
    assert grade.details["implemented"] == grade.details["operations"]
    assert grade.details["ran"] is True
    assert result.scores["fuzz"] == 0.0, grade.findings
    assert any(f.check == "operation-not-reached" for f in grade.findings)


# -- live apps: what the fuzzer sends and where ---------------------------------------------

RECORD_MARK = "RECORDED-REQUEST "
_RECORDER = f"""

import json as _json


class _RecordRequests:
    # Prints every request the app receives (method, path, headers, body) to its log:
    # the sandboxed app can write nowhere else the test can read.

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks = []

        async def receive_and_keep():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, receive_and_keep, send)
        finally:
            entry = {{
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                            for k, v in scope["headers"]],
                "body": b"".join(chunks).decode("utf-8", "replace")[:400],
            }}
            print({RECORD_MARK!r} + _json.dumps(entry), flush=True)


app.add_middleware(_RecordRequests)
# A minimal document: the fuzzer must not need the app's own.
app.openapi_schema = {{"openapi": "3.1.0", "info": {{"title": "x", "version": "1"}}, "paths": {{}}}}
"""


def test_traffic_names_no_fuzzer_and_each_grade_makes_a_new_user(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    """What a real app received: the hidden tests' User-Agent on every request, no
    schemathesis header, path or probe, and a different random user per grade; and an
    app serving an empty /openapi.json is still fuzzed on every contract operation."""
    task = TASKS["jwt-auth"]
    files = task.reference_files()
    files = {**files, "main.py": files["main.py"] + _RECORDER}
    with live_app(task, files, servers["postgres"], local_runtime, tmp_path) as context:
        grades = [FuzzGrader().grade(context) for _ in range(2)]
    log = (tmp_path / "app.log").read_text(errors="replace")
    entries = [
        json.loads(line.split(RECORD_MARK, 1)[1])
        for line in log.splitlines()
        if RECORD_MARK in line
    ]
    assert len(entries) > 50
    for entry in entries:
        headers = {name.lower(): value for name, value in entry["headers"]}
        assert headers.get("user-agent") == NEUTRAL_USER_AGENT, entry
        shown = json.dumps(entry).lower()
        assert "schemathesis" not in shown and "hypothesis" not in shown, entry
    registered = [
        json.loads(entry["body"])
        for entry in entries
        if entry["method"] == "POST"
        and entry["path"] == "/auth/register"
        and headers_of(entry).get("authorization") is None
        and entry["body"].startswith("{")
    ]
    fuzz_users = [(body.get("email"), body.get("password")) for body in registered]
    assert len(fuzz_users) == 2, registered  # one per grade, each with its own credentials
    (email_a, password_a), (email_b, password_b) = fuzz_users
    assert email_a != email_b and password_a != password_b
    for grade in grades:
        assert grade.details["tested_operations"] == grade.details["operations"]
    # Only the first grade had the fresh database a grade always gets: the second one's
    # generated registrations repeat the first one's emails (409s, as they must).
    assert grades[0].score == 1.0, [(f.check, f.message) for f in grades[0].findings]


def headers_of(entry: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in entry["headers"]}


def test_extreme_input_500s_are_left_to_robustness_and_redirects_followed(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    """user-crud's reference with its id bound removed (an id beyond int32 reaches
    asyncpg: a 500) and its collection routes at `/users/` (Starlette answers `/users`
    with a 307): the 500s are info findings for the robustness grader, the 307s are
    followed, and the score stays 1.0."""
    task = TASKS["user-crud"]
    files = task.reference_files()
    files = _edited(files, "dependencies.py", "Path(ge=1, le=2147483647)", "Path(ge=1)")
    files = _edited(files, "routes.py", '@router.post(\n    "",', '@router.post(\n    "/",')
    files = _edited(files, "routes.py", '@router.get("", ', '@router.get("/", ')
    with live_app(task, files, servers["postgres"], local_runtime, tmp_path) as context:
        grade = FuzzGrader().grade(context)
        # the redirect is real: the app answers the contract's path with a 307
        assert httpx.get(f"{context.base_url}/users").status_code == 307
    assert grade.score == 1.0, [(f.check, f.message) for f in grade.findings]
    extreme = [f for f in grade.findings if f.check == "extreme-input"]
    assert any(
        "/users/{id}" in f.message and ExtremeInput.INTEGER_OUT_OF_RANGE in f.evidence
        for f in extreme
    ), grade.findings
    assert all(f.severity == "info" for f in extreme)
    assert grade.details["extreme_input"]
    assert grade.details["tested_operations"] == grade.details["operations"]


# -- live apps: defects found ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_planted_500_is_found_with_a_reproduction_that_works(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, kind: str
) -> None:
    task = TASKS["user-crud"]
    files = task.mutant_files(task.mutant("duplicate-email-500"))
    with live_app(task, files, servers[kind], local_runtime, tmp_path) as context:
        grade = FuzzGrader().grade(context)
        assert ("POST /users", "not_a_server_error") in _failed_cells(grade)
        assert grade.score < 1.0
        finding = next(
            f
            for f in grade.findings
            if f.check == "not_a_server_error" and f.message.startswith("POST /users")
        )
        assert finding.severity == "high" and "ST101" in finding.message
        assert "curl " in finding.evidence
        failure = next(
            f
            for f in grade.details["failures"]
            if f["operation"] == "POST /users" and f["check"] == "not_a_server_error"
        )
        # The curl line, run by bash against the live app, gets the 500 again (sent twice:
        # the stateful phase may have deleted the user whose email the failing request
        # repeated, so the first may create it anew) ...
        last = failure["reproduction"].splitlines()[-1]
        codes = [
            subprocess.run(
                ["bash", "-c", f"{last} -o /dev/null -w '%{{http_code}}'"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            for _ in range(2)
        ]
        assert codes[-1] == "500", (last, codes)
        # ... and so does the structured request, sent with httpx.
        request = failure["requests"][-1]
        response = httpx.request(
            request["method"],
            request["url"],
            headers=request["headers"],
            content=base64.b64decode(request["body_base64"]),
        )
        assert response.status_code == 500


def test_naive_timestamps_are_a_schema_violation_never_calibrated(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task = TASKS["user-crud"]
    files = task.mutant_files(task.mutant("naive-timestamps"))
    _grade(task, files, servers["mysql"], local_runtime, tmp_path)
    grade = _fuzz_grade(tmp_path)
    failed = {check for _, check in _failed_cells(grade)}
    assert "response_schema_conformance" in failed, grade.findings
    assert not any(
        f.check.startswith("calibrated:") and "schema" in f.message for f in grade.findings
    )


def test_negative_coverage_finds_unbounded_pagination_and_calibrates_allow_headers(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the coverage phase's negative scenarios on (off by default, see fuzz.yaml), a
    limit or offset below the contract's minimum reaches the database of an app that
    does not bound them: a 500 on ordinary (not extreme) input. Every FastAPI app also
    sends a 405 whose Allow header lists one route's methods; the calibration keeps every
    other cell passing."""
    config = load_config()
    negative = config.model_copy(
        update={"run": config.run.model_copy(update={"coverage_mode": "all"})}
    )
    monkeypatch.setattr(harness.graders.fuzz, "load_config", lambda: negative)
    task = TASKS["user-crud"]
    files = task.mutant_files(task.mutant("no-pagination-bounds"))
    with live_app(task, files, servers["postgres"], local_runtime, tmp_path) as context:
        grade = FuzzGrader().grade(context)
    assert "allow_header_conformance" in grade.details["checks"]
    assert grade.details["calibrated"].get("starlette-405-allow-lists-route-methods", 0) > 0
    assert _failed_cells(grade) == {("GET /users", "not_a_server_error")}, grade.findings


def test_same_sample_graded_five_times_gives_identical_scores(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task = TASKS["user-crud"]
    files = task.mutant_files(task.mutant("duplicate-email-500"))

    def grade(attempt: int) -> tuple[float, list[tuple[str, str]]]:
        folder = tmp_path / str(attempt)
        folder.mkdir()
        result = _grade(task, files, servers["postgres"], local_runtime, folder)
        return result.scores["fuzz"], sorted(_failed_cells(_fuzz_grade(folder)))

    with ThreadPoolExecutor(max_workers=PARALLEL_GRADES) as pool:
        outcomes = list(pool.map(grade, range(5)))
    assert all(outcome == outcomes[0] for outcome in outcomes), outcomes
    assert outcomes[0][0] < 1.0
