"""Per-sample databases on real servers: fresh, owned by their own user, isolated."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from harness.core.errors import InfrastructureError
from harness.sandbox.databases import (
    MYSQL_COLLATION,
    POSTGRES_COLLATION,
    SAMPLE_CONNECTION_LIMIT,
    DatabaseServer,
    connect_server,
    engine_label,
)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_sample_database_is_fresh_and_usable_by_its_own_user(
    servers: dict[str, DatabaseServer], kind: str
) -> None:
    server = servers[kind]
    database = server.create_sample_database("isolation a")
    try:
        engine = create_engine(database.sync_url)
        with engine.begin() as conn:
            assert inspect(conn).get_table_names() == []
            conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(20))"))
            conn.execute(text("INSERT INTO notes VALUES (1, 'secret')"))
        engine.dispose()
    finally:
        server.drop_sample_database(database)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_a_sample_user_cannot_reach_another_samples_database(
    servers: dict[str, DatabaseServer], kind: str
) -> None:
    server = servers[kind]
    first = server.create_sample_database("iso one")
    second = server.create_sample_database("iso two")
    try:
        owner = create_engine(second.sync_url)
        with owner.begin() as conn:
            conn.execute(text("CREATE TABLE private_rows (id INTEGER PRIMARY KEY)"))
        owner.dispose()
        intruder_url = second.sync_url.replace(
            f"{second.user}:{second.password}", f"{first.user}:{first.password}"
        )
        intruder = create_engine(intruder_url)
        with pytest.raises((OperationalError, ProgrammingError)):
            with intruder.connect() as conn:
                conn.execute(text("SELECT * FROM private_rows"))
        intruder.dispose()
    finally:
        server.drop_sample_database(first)
        server.drop_sample_database(second)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_dropped_database_is_gone(servers: dict[str, DatabaseServer], kind: str) -> None:
    server = servers[kind]
    database = server.create_sample_database("dropme")
    server.drop_sample_database(database)
    engine = create_engine(database.sync_url)
    with pytest.raises(OperationalError):
        with engine.connect():
            pass
    engine.dispose()


def test_server_versions_are_read_from_the_servers(servers: dict[str, DatabaseServer]) -> None:
    assert "PostgreSQL" in servers["postgres"].version()
    assert "MariaDB" in servers["mysql"].version() or "8." in servers["mysql"].version()


def test_unreachable_server_url_is_an_infrastructure_error() -> None:
    with pytest.raises(InfrastructureError, match="127.0.0.1:1"):
        connect_server("postgres", "postgresql://nobody:x@127.0.0.1:1/postgres")


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_sample_databases_answer_the_same_anywhere(
    servers: dict[str, DatabaseServer], kind: str
) -> None:
    """UTC sessions, an explicit collation whatever the server's default, and a cap on
    the sample user's connections (a leaky candidate cannot starve the others)."""
    server = servers[kind]
    database = server.create_sample_database("settings")
    try:
        engine = create_engine(database.sync_url)
        with engine.connect() as conn:
            if kind == "postgres":
                zone = conn.execute(text("SHOW timezone")).scalar()
                collation = conn.execute(text("SHOW lc_collate")).scalar()
                limit = conn.execute(
                    text("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user")
                ).scalar()
            else:
                zone, collation = conn.execute(
                    text("SELECT @@time_zone, @@collation_database")
                ).one()
                limit = conn.execute(text("SELECT @@max_user_connections")).scalar()
        engine.dispose()
    finally:
        server.drop_sample_database(database)
    assert zone in ("UTC", "+00:00")
    assert collation == (POSTGRES_COLLATION if kind == "postgres" else MYSQL_COLLATION)
    assert limit == SAMPLE_CONNECTION_LIMIT


def test_a_dropped_postgres_sample_leaves_no_statement_statistics(
    servers: dict[str, DatabaseServer],
) -> None:
    server = servers["postgres"]
    server._execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    database = server.create_sample_database("stats")
    engine = create_engine(database.sync_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 42 AS statistics_probe"))
    engine.dispose()
    role = server._execute(f"SELECT oid FROM pg_roles WHERE rolname = '{database.user}'")[0]
    counted = f"SELECT count(*) FROM pg_stat_statements WHERE userid = {role}"
    assert int(server._execute(counted)[0]) > 0
    server.drop_sample_database(database)
    assert int(server._execute(counted)[0]) == 0


@pytest.mark.parametrize(
    ("kind", "version", "label"),
    [
        ("postgres", "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64", "postgres 15.18"),
        ("mysql", "10.11.6-MariaDB-0+deb12u1", "mariadb 10.11.6"),
        ("mysql", "8.4.3", "mysql 8.4.3"),
    ],
)
def test_engine_labels_tell_mysql_and_mariadb_apart(kind: str, version: str, label: str) -> None:
    assert engine_label(kind, version) == label
