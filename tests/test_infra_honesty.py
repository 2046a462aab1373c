"""A candidate cannot turn its row into an infrastructure error (which would drop it from
every metric): a failure is infra only when a harness-owned resource is verified broken
by the harness itself. An app that changes its own database password at startup is
graded (its schema read as the server's admin); a grader that raises on an app's odd
answer scores 0 with a finding; only a dead admin connection makes a row infra."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from harness.core.errors import InfrastructureError
from harness.core.tasks import load_task
from harness.grading.pipeline import DEFAULT_GRADERS, CandidateRun, _grader_failed
from harness.sandbox.databases import SERVER_CLASSES, DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

KINDS = ("postgres", "mysql")
# Run at startup, after the tables exist: the app locks the harness out of its user.
_CHANGE_OWN_PASSWORD = {
    "postgres": "ALTER ROLE CURRENT_USER PASSWORD 'changed-by-the-app-1'",
    "mariadb": "SET PASSWORD = PASSWORD('changed-by-the-app-1')",
    "mysql": "SET PASSWORD = 'changed-by-the-app-1'",  # MySQL 8 has no PASSWORD()
}


def _changes_its_password(server: DatabaseServer) -> dict[str, str]:
    engine = server.engine_label().split()[0]
    task = load_task("user-crud")
    files = task.reference_files()
    files["main.py"] = files["main.py"].replace(
        "    await create_tables()\n",
        "    await create_tables()\n"
        "    from sqlalchemy import text\n"
        "    from database import engine\n"
        "    async with engine.begin() as connection:\n"
        f'        await connection.execute(text("{_CHANGE_OWN_PASSWORD[engine]}"))\n',
    )
    assert "changed-by-the-app-1" in files["main.py"]
    return files


@pytest.mark.parametrize("kind", KINDS)
def test_an_app_that_changes_its_database_password_is_graded_not_infra(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, kind: str
) -> None:
    task = load_task("user-crud")
    result = grade_files(
        task,
        _changes_its_password(servers[kind]),
        servers[kind],
        local_runtime,
        tmp_path,
        DEFAULT_GRADERS,
    )
    assert result.infra_error is None, result.infra_error
    assert result.boot.ok
    # Read as the server's admin: the schema is the reference's, whatever the app did.
    assert result.scores["schema"] == 1.0, result.findings
    assert result.scores["boot"] == 1.0, result.findings
    # Every grader produced a score; none was dropped as infrastructure.
    assert set(DEFAULT_GRADERS) <= set(result.scores)


@pytest.mark.parametrize("kind", KINDS)
def test_a_grader_that_raises_scores_zero_when_the_harness_is_sound(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, kind: str
) -> None:
    server = servers[kind]
    task = load_task("user-crud")
    database = server.create_sample_database("honesty")
    try:
        run = CandidateRun(task, {}, tmp_path, 0, server, tmp_path, local_runtime)
        grade = _grader_failed(run, database, "schema", ValueError("the app stored nonsense"))
    finally:
        server.drop_sample_database(database)
    assert grade.score == 0.0
    assert [(f.check, f.severity) for f in grade.findings] == [("grader-error", "high")]
    assert "the app stored nonsense" in grade.findings[0].message


@pytest.mark.parametrize("kind", KINDS)
def test_a_grader_that_raises_is_infra_only_when_the_admin_connection_is_broken(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, kind: str
) -> None:
    server = servers[kind]
    database = server.create_sample_database("honesty")
    # The same server, reached with a wrong admin password: the harness's own access is
    # what is broken, so the row must be retried as infrastructure.
    wrong = make_url(server.admin_url).set(password="not-the-admin-password")
    broken = SERVER_CLASSES[kind](wrong)
    try:
        run = CandidateRun(load_task("user-crud"), {}, tmp_path, 0, broken, tmp_path, local_runtime)
        with pytest.raises(InfrastructureError):
            _grader_failed(run, database, "schema", ValueError("boom"))
    finally:
        broken.close()
        server.drop_sample_database(database)
