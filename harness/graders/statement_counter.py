"""Count the SQL statements a database user ran, as the server itself saw them.

Hidden tests use it to catch N+1 queries. It reads server statistics through an admin
connection (PostgreSQL's pg_stat_statements, MySQL/MariaDB's performance_schema), so an
app cannot fool it: it neither sees the admin credentials nor may reset the statistics.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_POSTGRES_COUNT = sa.text(
    "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s "
    "JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = :user"
)
_MYSQL_COUNT = sa.text(
    "SELECT coalesce(sum(COUNT_STAR), 0) "
    "FROM performance_schema.events_statements_summary_by_user_by_event_name "
    "WHERE USER = :user"
)
_SETTLE_S = 0.05


class StatementCounter:
    """Total statements run so far by one user; take differences around a request."""

    def __init__(self, kind: str, admin_url: str, user: str) -> None:
        self.kind = kind
        self.user = user
        self.engine: Engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        if kind == "postgres":
            with self.engine.connect() as conn:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))

    def total(self) -> int:
        """Statements finished so far; waits a moment for in-flight statistics to land."""
        time.sleep(_SETTLE_S)
        query = _POSTGRES_COUNT if self.kind == "postgres" else _MYSQL_COUNT
        with self.engine.connect() as conn:
            return int(conn.execute(query, {"user": self.user}).scalar_one())

    def close(self) -> None:
        self.engine.dispose()
