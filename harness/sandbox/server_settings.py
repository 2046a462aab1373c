"""How the harness runs its throwaway database servers, local or in containers: one
admin account, durability off (nothing here must survive a crash), room for parallel
samples, statistics on (the statement counter reads pg_stat_statements /
performance_schema), and the same answer everywhere: UTC, one collation, and a
pg_stat_statements table a long run cannot fill (entries are per sample database and
are removed when it is dropped, `databases.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.core.errors import InfrastructureError
from harness.sandbox.databases import DatabaseServer

ADMIN_USER = "harness"

POSTGRES_FLAGS = (
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
    "-c",
    "shared_preload_libraries=pg_stat_statements",
    "-c",
    "pg_stat_statements.max=20000",
    "-c",
    "timezone=UTC",
    "-c",
    "log_timezone=UTC",
)
MYSQL_FLAGS = (
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=OFF",
    "--skip-name-resolve",
    "--max-connections=300",
    "--performance-schema=ON",
    "--default-time-zone=+00:00",
)


def wait_until_accepting(
    server: DatabaseServer,
    ended: Callable[[], str | None],
    timeout_s: float,
    log_tail: Callable[[], str],
) -> None:
    """Wait for a real admin connection; fail fast when `ended` says the server's process
    or container is gone (it returns why, else None)."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        why = ended()
        if why is not None:
            raise InfrastructureError(
                f"{server.kind} server {why} during start; log:\n{log_tail()}"
            )
        try:
            server.version()
            return
        except InfrastructureError as exc:
            last_error = str(exc)
            time.sleep(0.2)
    raise InfrastructureError(
        f"{server.kind} server not accepting after {timeout_s:.0f}s: {last_error}\n{log_tail()}"
    )
