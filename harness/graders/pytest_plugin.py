"""Pytest plugin for a task's hidden tests, loaded with ``-p harness.graders.pytest_plugin``.

Fixtures (session scoped), each built from an environment variable the harness sets:

- ``api``: an ``httpx.Client`` whose ``base_url`` is ``HARNESS_APP_URL``.
- ``db``: a synchronous SQLAlchemy ``Engine`` on ``HARNESS_DB_URL``
  (``postgresql+psycopg://...`` or ``mysql+pymysql://...``), the sample's own database.
- ``db_kind``: ``HARNESS_DB_KIND``, ``"postgres"`` or ``"mysql"``.
- ``jwt_secret``: ``HARNESS_JWT_SECRET``, for tasks whose app signs tokens.
- ``sql_statements``: a ``StatementCounter`` reading, on the database server itself, how
  many SQL statements the app's database user (``HARNESS_DB_USER``) has run, through an
  admin connection (``HARNESS_ADMIN_DB_URL``) the app never sees and cannot reset.

A missing variable fails the tests that use the fixture (as a setup error) with a message
naming the variable; tests that do not use it still run.

When ``HARNESS_REPORT_PATH`` is set, a JSON list with one entry per test is written there at
the end of the session: ``{"nodeid", "name", "outcome", "message", "duration"}`` where
``outcome`` is ``passed``, ``failed``, ``error`` (setup/teardown or collection failure) or
``skipped``.

The report lists every collected test from the start (outcome ``not-run``) and is
rewritten after each test, so a suite killed at its time cap still says which tests
passed: the rest count as not run.

Each test has ``HARNESS_TEST_TIMEOUT`` seconds (default 30); past that it fails as timed
out and the next test runs, so one hanging endpoint costs one test, not the suite.

Marker ``robustness``: a test that sends extreme input (NUL bytes, integers beyond the
int32/int64 range, huge offsets, oversized strings, lone surrogates). The ``functional``
grader runs the others (``-m "not robustness"``), the ``robustness`` grader these.

``--only-tests NAME,NAME`` runs only the tests with those function names and deselects
the rest (the task proofs run just the tests a mutant names).
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from harness.core import settings
from harness.graders.http_transport import StaleConnectionRetry
from harness.graders.statement_counter import StatementCounter

# The variables the harness sets for this process (declared in harness/core/settings.py).
APP_URL_ENV = settings.APP_URL.name
ADMIN_DB_URL_ENV = settings.ADMIN_DB_URL.name
DB_USER_ENV = settings.DB_USER.name
DB_URL_ENV = settings.DB_URL.name
DB_KIND_ENV = settings.DB_KIND.name
JWT_SECRET_ENV = settings.JWT_SECRET.name
REPORT_PATH_ENV = settings.REPORT_PATH.name
TEST_TIMEOUT_ENV = settings.TEST_TIMEOUT.name
DEFAULT_TEST_TIMEOUT_S = settings.TEST_TIMEOUT.default
ROBUSTNESS_MARKER = "robustness"

DB_KINDS = ("postgres", "mysql")
MESSAGE_LIMIT = 2000
HTTP_TIMEOUT_SECONDS = 30.0

Outcome = Literal["passed", "failed", "error", "skipped", "not-run"]


def _require_env(name: str, meaning: str) -> str:
    value = settings.SETTINGS[name].raw()
    if value is None:
        pytest.fail(
            f"environment variable {name} is not set; the harness must set it to {meaning}",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def api() -> Iterator[httpx.Client]:
    """An HTTP client for the app under test (``HARNESS_APP_URL``)."""
    base_url = _require_env(APP_URL_ENV, "the base URL of the app under test")
    with httpx.Client(
        base_url=base_url,
        timeout=HTTP_TIMEOUT_SECONDS,
        follow_redirects=True,
        trust_env=False,
        transport=StaleConnectionRetry(),
    ) as client:
        yield client


@pytest.fixture(scope="session")
def db() -> Iterator[Engine]:
    """A synchronous SQLAlchemy engine on the sample's database (``HARNESS_DB_URL``)."""
    url = _require_env(DB_URL_ENV, "a sync SQLAlchemy URL of the sample's database")
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def db_kind() -> str:
    """``"postgres"`` or ``"mysql"`` (``HARNESS_DB_KIND``)."""
    kind = _require_env(DB_KIND_ENV, "the database kind (postgres or mysql)")
    if kind not in DB_KINDS:
        pytest.fail(
            f"environment variable {DB_KIND_ENV}={kind!r} is not one of {', '.join(DB_KINDS)}",
            pytrace=False,
        )
    return kind


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    """The secret the app signs its tokens with (``HARNESS_JWT_SECRET``)."""
    return _require_env(JWT_SECRET_ENV, "the JWT secret given to the app")


@pytest.fixture(scope="session")
def sql_statements(db_kind: str) -> Iterator[StatementCounter]:
    """Counts the app user's statements server-side (for N+1 checks)."""
    admin_url = _require_env(ADMIN_DB_URL_ENV, "an admin sync SQLAlchemy URL of the server")
    user = _require_env(DB_USER_ENV, "the app's database user name")
    counter = StatementCounter(db_kind, admin_url, user)
    try:
        yield counter
    finally:
        counter.close()


@dataclass
class ReportEntry:
    """One test's entry in the JSON report."""

    nodeid: str
    name: str
    outcome: Outcome = "not-run"
    message: str = ""
    duration: float = 0.0


def _test_name(nodeid: str) -> str:
    """The test function's name: the last node id part without its parameters."""
    return nodeid.split("::")[-1].split("[", 1)[0]


def _shorten(text: str) -> str:
    text = text.strip()
    if len(text) > MESSAGE_LIMIT:
        return text[: MESSAGE_LIMIT - 3] + "..."
    return text


def _failure_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A short message: the crash line (assertion or exception repr), else the whole repr."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):
        return _shorten(str(longrepr[2]))
    crash = getattr(longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if isinstance(message, str) and message.strip():
        return _shorten(message)
    text = str(longrepr)
    error_lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return _shorten("\n".join(error_lines) if error_lines else text)


class JsonReport:
    """Collects per-test outcomes and writes them as JSON when the session ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, ReportEntry] = {}

    def _record(self, nodeid: str) -> ReportEntry:
        record = self.records.get(nodeid)
        if record is None:
            record = ReportEntry(nodeid=nodeid, name=_test_name(nodeid))
            self.records[nodeid] = record
        return record

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self._record(item.nodeid)
        self._write()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self._record(report.nodeid)
        record.duration += report.duration
        if report.when == "setup" and record.outcome == "not-run":
            record.outcome = "passed"
        if report.when == "call":
            if report.failed:
                record.outcome = "failed"
                record.message = _failure_message(report)
            elif report.skipped:
                record.outcome = "skipped"
                reason = getattr(report, "wasxfail", None)
                record.message = (
                    _shorten(f"xfail: {reason}") if reason is not None else _failure_message(report)
                )
            return
        if report.failed:
            if record.outcome in ("passed", "skipped"):
                record.outcome = "error"
                record.message = _shorten(f"{report.when} error: {_failure_message(report)}")
        elif report.skipped and report.when == "setup":
            record.outcome = "skipped"
            record.message = _failure_message(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            record = self._record(report.nodeid or "<collection>")
            record.outcome = "error"
            record.message = _shorten(f"collection error: {_failure_message(report)}")

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._write()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = [asdict(record) for record in self.records.values()]
        for entry in payload:
            entry["duration"] = round(float(entry["duration"]), 6)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.path)


class HiddenTestTimeout(Exception):
    """A hidden test ran past its time budget."""


def _test_timeout_s() -> float:
    return settings.TEST_TIMEOUT.get()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test that runs past its budget (SIGALRM: the tests run in the main thread)."""
    budget = _test_timeout_s()
    if budget <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise HiddenTestTimeout(f"the test ran past its {budget:.0f}s budget")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ROBUSTNESS_MARKER}: sends extreme input; scored by the robustness grader",
    )
    report_path = settings.REPORT_PATH.get()
    if report_path and not config.pluginmanager.has_plugin("harness-json-report"):
        config.pluginmanager.register(JsonReport(Path(report_path)), "harness-json-report")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--only-tests",
        default="",
        help="comma-separated test function names: run only these",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    option = str(config.getoption("--only-tests"))
    wanted = {name.strip() for name in option.split(",") if name.strip()}
    if not wanted:
        return
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        (kept if _test_name(item.nodeid) in wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
