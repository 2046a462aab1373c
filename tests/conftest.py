"""Shared fixtures: one real PostgreSQL and one real MariaDB server per test session
(started by the harness itself, exactly as `make eval` does), and the runtime venv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.tasks import Task, load_task
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.local.runtime import LocalRuntime
from harness.sandbox.local.runtime_venv import ensure_runtime_venv
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import database_servers

DATABASES = ("postgres", "mysql")


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, DatabaseServer]]:
    with database_servers(DATABASES) as running:
        yield running


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    return ensure_runtime_venv()


@pytest.fixture(scope="session")
def local_runtime(runtime_python: Path) -> Runtime:
    """The local backend's runtime, as the grading API takes it."""
    return LocalRuntime(runtime_python)


@pytest.fixture(scope="session")
def user_crud() -> Task:
    return load_task("user-crud")


@pytest.fixture(scope="session")
def server_urls(servers: dict[str, DatabaseServer]) -> dict[str, str]:
    """Environment that points a harness subprocess at the session's servers."""
    return {
        "HARNESS_POSTGRES_URL": servers["postgres"].admin_url.render_as_string(hide_password=False),
        "HARNESS_MYSQL_URL": servers["mysql"].admin_url.render_as_string(hide_password=False),
    }


# The files that grade the most, longest first. `make test` hands whole files to its
# workers (pytest-xdist --dist loadfile) in collection order, so starting the longest
# ones first keeps one worker from finishing a long file alone at the end.
LONGEST_FIRST = (
    "test_corpus.py",
    "test_task_proofs.py",
    "test_ray_executor.py",
    "test_grader_fuzz.py",
    "test_grader_security.py",
    "test_docker_runtime.py",
    "test_null_agents.py",
    "test_provider_claude_code.py",
    "test_provider_command.py",
    "test_rounds.py",
    "test_grader_schema.py",
    "test_local_sandbox.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first; every other file, and the order inside a file, as
    collected (a stable sort)."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))
