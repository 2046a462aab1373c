"""The security grader on real apps and real databases: every task's reference passes
every probe that applies on both engines, every check is tripped by a known-bad mutant
or a fixture app (tests/fixtures/graders_live/*.yaml: edits to a task's reference), and
grading one sample five times gives the same result."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

import graders.security  # noqa: F401  (registers the grader)
from graders.probes.evidence import same_value
from graders.probes.tokens import hmac_signs, split_token
from graders.security import CHECKS, CheckLog, _is_free_text_query, score_checks
from harness.results import SampleResult
from harness.sandbox.databases import DatabaseServer
from harness.tasks import Task, list_task_ids, load_task
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
    """A fixture app: a task's reference with the fixture's edits (each `find` once)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    task = TASKS[data["task"]]
    files = task.reference_files()
    for edit in data["edits"]:
        assert files[edit["file"]].count(edit["find"]) == 1, (path.name, edit["find"])
        files[edit["file"]] = files[edit["file"]].replace(edit["find"], edit["replace"])
    return task, files, set(data["trips"])


FIXTURE_PATHS = sorted(FIXTURES.glob("*.yaml"))


_grade = partial(grade_files, graders=("boot", "security"), must_boot=True)


def _failed(result: SampleResult) -> set[str]:
    return {f.check for f in result.findings if f.grader == "security" and f.severity != "info"}


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


def test_free_text_query_parameters_exclude_enums_and_dates() -> None:
    text = {"in": "query", "name": "search", "schema": {"anyOf": [{"type": "string"}]}}
    enum = {"in": "query", "name": "sort", "schema": {"type": "string", "enum": ["a"]}}
    date = {"in": "query", "name": "since", "schema": {"type": "string", "format": "date"}}
    assert _is_free_text_query(text)
    assert not _is_free_text_query(enum) and not _is_free_text_query(date)


def test_score_weighs_by_severity_and_leaves_inconclusive_out() -> None:
    log = CheckLog()
    log.ok("sql-injection")  # critical, 4
    log.fail("login-user-enumeration", "differs")  # medium, 2
    log.unsure("jwt-expired", "no secret")
    assert score_checks(log) == pytest.approx(4 / 6)


# -- live apps -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_reference_passes_every_probe(
    servers: dict[str, DatabaseServer],
    runtime_python: Path,
    tmp_path: Path,
    task_id: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    result = _grade(task, task.reference_files(), servers[kind], runtime_python, tmp_path)
    security = [f for f in result.findings if f.grader == "security"]
    assert result.scores["security"] == 1.0, [(f.check, f.evidence[:300]) for f in security]
    assert not [f for f in security if f.severity != "info"]


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
    runtime_python: Path,
    tmp_path: Path,
    task_id: str,
    mutant: str,
    kind: str,
) -> None:
    task = TASKS[task_id]
    files = task.mutant_files(task.mutant(mutant))
    result = _grade(task, files, servers[kind], runtime_python, tmp_path)
    missed = MUTANT_TRIPS[(task_id, mutant)] - _failed(result)
    assert not missed, (missed, [(f.check, f.message) for f in result.findings])
    assert result.scores["security"] < 1.0


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[p.stem for p in FIXTURE_PATHS])
def test_fixture_app_trips_its_checks(
    servers: dict[str, DatabaseServer], runtime_python: Path, tmp_path: Path, path: Path
) -> None:
    task, files, trips = load_fixture(path)
    result = _grade(task, files, servers["postgres"], runtime_python, tmp_path)
    missed = trips - _failed(result)
    assert not missed, (missed, [(f.check, f.message) for f in result.findings])
    failed = next(f for f in result.findings if f.check == sorted(trips)[0])
    assert failed.evidence


def test_same_sample_graded_five_times_gives_identical_results(
    servers: dict[str, DatabaseServer], runtime_python: Path, tmp_path: Path
) -> None:
    task = TASKS["jwt-auth"]
    files = task.mutant_files(task.mutant("signature-not-verified"))
    outcomes = []
    for attempt in range(5):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        result = _grade(task, files, servers["postgres"], runtime_python, folder)
        outcomes.append((result.scores["security"], sorted(_failed(result))))
    assert all(outcome == outcomes[0] for outcome in outcomes), outcomes
    assert outcomes[0][0] < 1.0
