"""The security grader on real apps and real databases: every task's reference passes
every probe that applies on both engines, every check is tripped by a known-bad mutant
or a fixture app (tests/fixtures/graders_live/*.yaml: edits to a task's reference), the
do-nothing apps score 0, a broken app never scores above the working one, and grading one
sample five times gives the same result with different probe identities."""

from __future__ import annotations

import json
import re
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.core.errors import InputFileError
from harness.core.records import SampleResult
from harness.core.settings import TASKS_DIR
from harness.core.tasks import Task, list_task_ids, load_task
from harness.graders.base import GradeResult
from harness.graders.probes import NEUTRAL_USER_AGENT, ProbeClient, load_probe_plan, probes_digest
from harness.graders.probes import plan as plan_module
from harness.graders.probes.evidence import same_value
from harness.graders.probes.identity import fresh_values, generated_values, new_password
from harness.graders.probes.plan import plans_paths
from harness.graders.probes.tokens import hmac_signs, split_token
from harness.graders.security import (
    CHECKS,
    NOT_VERIFIED_SEVERITY,
    CheckLog,
    SecurityGrader,
    applicable_checks,
    contract_index,
    score_checks,
)
from harness.grading.null_agents import NULL_AGENTS, null_agent_files
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

FIXTURES = Path(__file__).parent / "fixtures" / "graders_live"
KINDS = ["postgres", "mysql"]
TASKS = {task_id: load_task(task_id) for task_id in list_task_ids()}

# Mutants of the tasks themselves and the security checks each must trip.
MUTANT_TRIPS: dict[tuple[str, str], set[str]] = {
    ("user-crud", "plaintext-password"): {"password-stored-plaintext", "password-hash-algorithm"},
    ("user-crud", "password-in-response"): {"password-in-response"},
    ("jwt-auth", "sha256-password"): {"password-stored-plaintext", "password-hash-algorithm"},
    ("jwt-auth", "password-hash-in-response"): {"password-in-response"},
    ("jwt-auth", "signature-not-verified"): {
        "jwt-alg-none",
        "jwt-wrong-key",
        "jwt-tampered-payload",
        "jwt-expired",
    },
    ("jwt-auth", "expiry-not-checked"): {"jwt-expired"},
    ("jwt-auth", "refresh-accepted-as-access"): {"jwt-refresh-as-access"},
    ("jwt-auth", "access-accepted-as-refresh"): {"jwt-access-as-refresh"},
    ("jwt-auth", "access-token-lives-a-day"): {"jwt-access-token-lifetime"},
    ("jwt-auth", "access-token-no-exp"): {"jwt-access-token-lifetime"},
    ("jwt-auth", "unknown-user-token-500"): {"jwt-unknown-subject"},
    ("jwt-auth", "secret-from-wrong-env-var"): {"jwt-guessable-secret"},
    ("jwt-auth", "login-reveals-unknown-email"): {"login-user-enumeration"},
    ("jwt-auth", "register-mass-assignment"): {"mass-assignment"},
    ("blog", "jwt-signature-unverified"): {"jwt-alg-none", "jwt-wrong-key", "jwt-tampered-payload"},
    ("blog", "post-authorship-unchecked"): {"idor-cross-user"},
    ("blog", "comment-delete-by-anyone"): {"idor-cross-user"},
    ("orders-inventory", "patch-changes-stock"): {"mass-assignment"},
}
# Those whose check reads the database run on both engines; the rest on PostgreSQL.
BOTH_ENGINES = {
    ("user-crud", "plaintext-password"),
    ("jwt-auth", "sha256-password"),
    ("jwt-auth", "register-mass-assignment"),
}


def load_fixture(path: Path) -> tuple[Task, dict[str, str], set[str]]:
    """A fixture app: a task's reference (or one of its mutants, `mutant:`) with the
    fixture's edits (each `find` once)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    task = TASKS[data["task"]]
    mutant = data.get("mutant")
    files = task.mutant_files(task.mutant(mutant)) if mutant else task.reference_files()
    for edit in data["edits"]:
        assert files[edit["file"]].count(edit["find"]) == 1, (path.name, edit["find"])
        files[edit["file"]] = files[edit["file"]].replace(edit["find"], edit["replace"])
    return task, files, set(data.get("trips", []))


FIXTURE_PATHS = sorted(FIXTURES.glob("*.yaml"))
VARIANTS = FIXTURES / "variants"


_grade = partial(grade_files, graders=("boot", "security"), must_boot=True)


def _failed(result: SampleResult) -> set[str]:
    """Checks that saw a weakness (not those merely not verified)."""
    return {
        f.check
        for f in result.findings
        if f.grader == "security"
        and f.severity != "info"
        and not f.message.startswith("not verified: ")
    }


def _security_grade(folder: Path) -> GradeResult:
    return GradeResult.model_validate_json((folder / "grade-security.json").read_text())


# -- units ---------------------------------------------------------------------------


def test_every_check_is_tripped_by_a_mutant_or_fixture() -> None:
    tripped = set().union(*MUTANT_TRIPS.values())
    for path in FIXTURE_PATHS:
        tripped |= load_fixture(path)[2]
    assert tripped == set(CHECKS)


def test_injected_values_are_compared_loosely_where_formats_differ() -> None:
    assert same_value("0.01", 0.01) and same_value("0.01", "0.010")
    assert same_value("2001-01-01T00:00:00Z", "2001-01-01T00:00:00+00:00")
    assert not same_value("2001-01-01T00:00:00Z", "2026-05-01T10:00:00Z")
    assert same_value(True, True) and not same_value(True, False)
    assert not same_value(987654, 1) and same_value(987654, 987654)


def test_tokens_are_split_and_hmac_keys_recognised() -> None:
    import jwt

    token = jwt.encode({"sub": "1"}, "change-this-secret-key-in-production", algorithm="HS256")
    header, claims = split_token(token) or ({}, {})
    assert header["alg"] == "HS256" and claims == {"sub": "1"}
    assert hmac_signs(token, "change-this-secret-key-in-production", "HS256")
    assert not hmac_signs(token, "another-key", "HS256")
    assert split_token("opaque-session-token") is None


def test_a_check_not_verified_counts_as_failed_and_one_not_applicable_is_left_out() -> None:
    log = CheckLog(["sql-injection", "login-user-enumeration", "jwt-expired", "mass-assignment"])
    log.ok("sql-injection")  # critical, 4
    log.fail("login-user-enumeration", "differs")  # medium, 2
    log.ok("jwt-expired")  # high, 3: one probe passed, another could not run
    log.not_verified("jwt-expired", "no secret")
    log.close("nothing ran")  # mass-assignment, high, 3
    assert log.status("jwt-expired") == log.status("mass-assignment") == "not-verified"
    assert score_checks(log) == pytest.approx(4 / 12)
    with pytest.raises(KeyError):
        log.ok("idor-cross-user")  # not in this plan


def test_what_applies_comes_from_the_plan() -> None:
    applies = {task_id: set(applicable_checks(load_probe_plan(task_id))) for task_id in TASKS}
    assert {"error-leaks-internals", "secret-in-response"} <= set.intersection(*applies.values())
    assert not {c for c in applies["orders-inventory"] if c.startswith(("jwt-", "password-"))}
    assert not {c for c in applies["user-crud"] if c.startswith("jwt-")}
    assert "jwt-refresh-as-access" in applies["blog"]  # login gives a refresh token
    assert "jwt-access-as-refresh" not in applies["blog"]  # there is no refresh operation
    assert set(JWT := [c for c in CHECKS if c.startswith("jwt-")]) <= applies["jwt-auth"], JWT


def _contract_parameters(task: Task, path: str) -> set[str]:
    document = task.contract_document
    names = set()
    for parameter in document["paths"][path]["get"].get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        names.add(parameter["name"])
    return names


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_plans_aim_at_contract_operations_and_name_contract_parameters(task_id: str) -> None:
    task, plan = TASKS[task_id], load_probe_plan(task_id)
    contract_index(plan, task.contract_operations())  # raises on a request outside it
    assert plan.sql_injection.queries or task_id == "jwt-auth"
    for target in plan.sql_injection.queries:
        assert target.param in _contract_parameters(task, target.path), target


def test_a_task_without_a_plan_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"no-such-task/grading/probes\.yaml"):
        load_probe_plan("no-such-task")
    shutil.copytree(TASKS_DIR / "user-crud", tmp_path / "user-crud")
    plan = tmp_path / "user-crud/grading/probes.yaml"
    plan.write_text(plan.read_text().replace("task: user-crud", "task: blog"))
    with pytest.raises(InputFileError, match=r"user-crud/grading/probes\.yaml: field 'task'"):
        load_probe_plan("user-crud", tmp_path)
    plan.write_text("task: user-crud\nreads: [{path: no-slash}]\n")
    with pytest.raises(InputFileError, match=r"grading/probes\.yaml: field 'reads\.0\.path'"):
        load_probe_plan("user-crud", tmp_path)


def test_the_version_changes_with_every_data_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SecurityGrader.cache_version().endswith(probes_digest())
    copy = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, copy)
    before = probes_digest(copy)
    assert before == probes_digest()
    edited = copy / "user-crud/grading/probes.yaml"
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert probes_digest(copy) != before
    assert len(plans_paths(copy)) == len(TASKS)
    before = probes_digest(copy)
    secrets = tmp_path / "common-jwt-secrets.txt"
    secrets.write_text(plan_module.COMMON_SECRETS_PATH.read_text() + "edited\n")
    monkeypatch.setattr(plan_module, "COMMON_SECRETS_PATH", secrets)
    assert probes_digest(copy) != before


def test_identities_are_random_per_grade_and_shaped_like_the_hidden_tests() -> None:
    names = {"email_a", "email_mass", "text_post", "int_id", "date_created", "code_sku"}
    first, second = generated_values(names), generated_values(names)
    assert set(first) == names and all(first[name] != second[name] for name in names)
    assert re.fullmatch(r"[a-z][0-9a-f]{16}@example\.com", first["email_a"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00Z", first["date_created"])
    assert 600_000 <= first["int_id"] < 1_000_000
    password = new_password()
    assert len(password) == 16 and re.search(r"[A-Z]", password) and re.search(r"\d", password)
    assert fresh_values()["fresh_email"] != fresh_values()["fresh_email"]
    plans = "".join(path.read_text() for path in plans_paths())
    for fixed in ("sp1", "security-a-", "Sec-probe", "Probe post", "Mass Probe", "{marker}"):
        assert fixed not in plans, fixed


def _mock_client(handler: Any) -> ProbeClient:
    return ProbeClient(
        "http://127.0.0.1:8000",
        max_requests=20,
        budget_s=10,
        transport=httpx.MockTransport(handler),
    )


def test_same_origin_redirects_are_followed_and_others_are_not() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/users":
            return httpx.Response(307, headers={"Location": "http://127.0.0.1:8000/users/"})
        if path == "/away":
            return httpx.Response(302, headers={"Location": "http://example.org/steal"})
        if path == "/form":
            return httpx.Response(303, headers={"Location": "/login"})
        if path.startswith("/loop"):
            return httpx.Response(307, headers={"Location": path + "x"})
        return httpx.Response(201 if request.method == "POST" else 200, json={"path": path})

    with _mock_client(handler) as client:
        created = client.send("POST", "/users", json_body={"email": "x"}, token="t")
        assert created.status == 201 and created.json() == {"path": "/users/"}
        assert created.redirects == ("307 POST /users/",) and not created.redirected_away
        assert seen[-1].content == b'{"email": "x"}'
        assert seen[-1].headers["Authorization"] == "Bearer t"
        away = client.send("GET", "/away")
        assert away.status == 302 and away.redirected_away
        assert all(request.url.host == "127.0.0.1" for request in seen)
        form = client.send("POST", "/form", json_body={})
        assert form.status == 200 and form.final_method == "GET" and form.redirected_away
        loop = client.send("GET", "/loop")
        assert loop.status == 307 and len(loop.redirects) == 3
    assert "307 POST /users/" in created.describe()


def test_every_request_carries_the_hidden_tests_headers_and_nothing_else() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with _mock_client(handler) as client:
        client.send("GET", "/users")
        client.send("POST", "/users", json_body={}, token="t")
    with httpx.Client(
        transport=httpx.MockTransport(handler), base_url="http://127.0.0.1:8000"
    ) as plain:
        plain.get("/users")
    probe, tests = seen[0], seen[-1]
    assert probe.headers["User-Agent"] == NEUTRAL_USER_AGENT == tests.headers["User-Agent"]
    assert dict(probe.headers) == dict(tests.headers)
    allowed = set(tests.headers) | {"authorization", "content-type", "content-length"}
    assert set(seen[1].headers) <= allowed


# -- live apps -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_reference_passes_every_probe(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    result = _grade(task, task.reference_files(), servers[kind], local_runtime, tmp_path)
    security = [f for f in result.findings if f.grader == "security"]
    shown = [(f.check, f.message, f.evidence[:300]) for f in security]
    assert result.scores["security"] == 1.0, shown
    assert not [f for f in security if f.severity != "info"]
    checks = _security_grade(tmp_path).details["checks"]
    assert {name for name, status in checks.items() if status == "passed"} == set(
        applicable_checks(load_probe_plan(task_id))
    )


@pytest.mark.parametrize("null_app", sorted(NULL_AGENTS))
@pytest.mark.parametrize("task_id", ["user-crud", "jwt-auth"])
def test_null_apps_score_zero(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    null_app: str,
) -> None:
    task = TASKS[task_id]
    files = null_agent_files(null_app)
    result = grade_files(task, files, servers["postgres"], local_runtime, tmp_path, ("security",))
    assert result.infra_error is None, result.infra_error
    assert result.scores["security"] == 0.0, [(f.check, f.message) for f in result.findings]
    if result.boot.ok:
        checks = _security_grade(tmp_path).details["checks"]
        assert "passed" not in checks.values(), checks


@pytest.mark.parametrize(
    ("task_id", "mutant", "kind"),
    [
        (task_id, mutant, kind)
        for (task_id, mutant) in sorted(MUTANT_TRIPS)
        for kind in (KINDS if (task_id, mutant) in BOTH_ENGINES else ["postgres"])
    ],
)
def test_mutant_trips_its_checks(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    mutant: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    files = task.mutant_files(task.mutant(mutant))
    result = _grade(task, files, servers[kind], local_runtime, tmp_path)
    missed = MUTANT_TRIPS[(task_id, mutant)] - _failed(result)
    assert not missed, (missed, [(f.check, f.message) for f in result.findings])
    assert result.scores["security"] < 1.0


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[p.stem for p in FIXTURE_PATHS])
def test_fixture_app_trips_its_checks(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, path: Path
) -> None:
    task, files, trips = load_fixture(path)
    result = _grade(task, files, servers["postgres"], local_runtime, tmp_path)
    missed = trips - _failed(result)
    assert not missed, (missed, [(f.check, f.message) for f in result.findings])
    failed = next(f for f in result.findings if f.check == sorted(trips)[0])
    assert failed.evidence


def test_an_app_with_broken_login_scores_lower_than_with_login_working(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task, broken, _ = load_fixture(VARIANTS / "jwt-auth-login-refused.yaml")
    working = task.mutant_files(task.mutant("signature-not-verified"))
    scores = {}
    for name, files in (("working", working), ("broken", broken)):
        (tmp_path / name).mkdir()
        result = _grade(task, files, servers["postgres"], local_runtime, tmp_path / name)
        scores[name] = result.scores["security"]
        if name == "broken":
            unverified = {
                f.check for f in result.findings if f.message.startswith("not verified: ")
            }
            assert {"jwt-alg-none", "jwt-expired", "login-user-enumeration"} <= unverified
            assert all(
                f.severity == NOT_VERIFIED_SEVERITY
                for f in result.findings
                if f.message.startswith("not verified: ")
            )
    assert scores["broken"] < scores["working"] < 1.0, scores


def test_a_307_to_a_trailing_slash_route_is_followed_not_flagged(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task, files, _ = load_fixture(VARIANTS / "blog-trailing-slash-routes.yaml")
    result = _grade(task, files, servers["postgres"], local_runtime, tmp_path)
    security = [(f.check, f.message, f.evidence[:300]) for f in result.findings]
    assert result.scores["security"] == 1.0, security
    assert _security_grade(tmp_path).details["redirected"] > 0, "the fixture app did not redirect"


def test_same_sample_graded_five_times_gives_identical_results_with_new_identities(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    task = TASKS["jwt-auth"]
    files = task.mutant_files(task.mutant("signature-not-verified"))
    outcomes, identities = [], []
    for attempt in range(5):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        result = _grade(task, files, servers["postgres"], local_runtime, folder)
        outcomes.append((result.scores["security"], sorted(_failed(result))))
        identities.append(json.dumps(_security_grade(folder).details["identity"]))
    assert all(outcome == outcomes[0] for outcome in outcomes), outcomes
    assert outcomes[0][0] < 1.0
    assert len(set(identities)) == 5, identities
