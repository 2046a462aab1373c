"""The server-side statement counter hidden tests use against N+1 queries."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from harness.graders.statement_counter import StatementCounter
from harness.sandbox.databases import DatabaseServer

RESET = {
    "postgres": "SELECT pg_stat_statements_reset()",
    "mysql": "TRUNCATE TABLE performance_schema.events_statements_summary_by_user_by_event_name",
}


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_counts_the_app_users_statements_and_the_app_cannot_reset_them(
    servers: dict[str, DatabaseServer], kind: str
) -> None:
    server = servers[kind]
    database = server.create_sample_database("counter")
    admin_url = server.admin_url.render_as_string(hide_password=False)
    counter = StatementCounter(kind, admin_url, database.user)
    app = create_engine(database.sync_url, isolation_level="AUTOCOMMIT")
    try:
        with app.connect() as conn:
            conn.execute(text("SELECT 1"))
            before = counter.total()
            for value in range(7):
                conn.execute(text(f"SELECT {value} + 1"))
            after = counter.total()
            assert 7 <= after - before <= 8
            with pytest.raises(DBAPIError):
                conn.execute(text(RESET[kind]))
        assert counter.total() >= after
    finally:
        app.dispose()
        counter.close()
        server.drop_sample_database(database)
