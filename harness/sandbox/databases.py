"""Database servers and the per-sample databases carved out of them.

One server per engine per run; each sample gets its own database and its own user,
so a candidate can neither see nor touch another sample's data.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from harness.core.errors import InfrastructureError

# Every sample database is created with these, whatever the server's defaults (MySQL 8
# and MariaDB differ: utf8mb4_0900_ai_ci vs utf8mb4_general_ci), so the same answer gets
# the same grade on any server.
POSTGRES_COLLATION = "C.UTF-8"
MYSQL_CHARSET = "utf8mb4"
MYSQL_COLLATION = "utf8mb4_unicode_ci"
# Connections one sample's user may hold: a candidate that leaks its pool cannot starve
# the others (the servers allow 300).
SAMPLE_CONNECTION_LIMIT = 60

_ASYNC_DRIVERS = {"postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}
_SYNC_DRIVERS = {"postgres": "postgresql+psycopg", "mysql": "mysql+pymysql"}


@dataclass(frozen=True)
class SampleDatabase:
    """A database and user for one sample on one engine."""

    kind: str
    host: str
    port: int
    name: str
    user: str
    password: str

    def _url(self, driver: str) -> str:
        url = URL.create(
            driver,
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.name,
        )
        return url.render_as_string(hide_password=False)

    @property
    def app_url(self) -> str:
        """The async URL handed to the candidate as DATABASE_URL."""
        return self._url(_ASYNC_DRIVERS[self.kind])

    @property
    def sync_url(self) -> str:
        """A sync URL for the harness's own inspection (hidden tests' `db`, schema)."""
        return self._url(_SYNC_DRIVERS[self.kind])


def sync_admin_url(kind: str, url: str) -> URL:
    """Normalise a user-given server URL to the harness's sync driver."""
    parsed = make_url(url)
    return parsed.set(drivername=_SYNC_DRIVERS[kind])


class ServerOwner(Protocol):
    """What keeps a server the harness started alive: its process or container."""

    def stop(self) -> None: ...


class DatabaseServer(ABC):
    """A running server the harness can administer over TCP. `owner`, when the harness
    started the server, is stopped on `close`; a server the user runs has none."""

    kind: str

    def __init__(self, admin_url: URL, owner: ServerOwner | None = None) -> None:
        self.admin_url = admin_url
        self.owner = owner
        self._engine: Engine | None = None
        self._engine_label: str | None = None

    @property
    def host(self) -> str:
        return self.admin_url.host or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.admin_url.port or self.default_port)

    @property
    @abstractmethod
    def default_port(self) -> int: ...

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
            )
        return self._engine

    def _execute(self, *statements: str) -> list[str]:
        """Run admin statements; any failure is the infrastructure's, not a model's."""
        results: list[str] = []
        try:
            with self.engine.connect() as conn:
                for statement in statements:
                    result = conn.execute(text(statement))
                    if result.returns_rows:
                        results.extend(str(row[0]) for row in result)
        except SQLAlchemyError as exc:
            raise InfrastructureError(
                f"{self.kind} server at {self.host}:{self.port}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        return results

    def version(self) -> str:
        return self._execute("SELECT version()")[0]

    def engine_label(self) -> str:
        """`<engine> <version>` of the server, e.g. `postgres 15.8`, `mariadb 10.11.6`,
        `mysql 8.4.0`: MySQL and MariaDB round timestamps and compare text differently,
        so rows say which one graded them. Read once per server."""
        if self._engine_label is None:
            self._engine_label = engine_label(self.kind, self.version())
        return self._engine_label

    def reset_sample_user(self, database: SampleDatabase) -> None:
        """Give the sample's user back the password the harness chose: proves the server
        and its admin work (else InfrastructureError) whatever the app did to its user."""
        self._execute(*self._reset_statements(database))

    def create_sample_database(self, label: str) -> SampleDatabase:
        """A fresh database and user; `label` keeps names readable in server logs."""
        suffix = secrets.token_hex(4)
        safe = "".join(ch if ch.isalnum() else "_" for ch in label.lower())[:30]
        name = f"s_{safe}_{suffix}"
        database = SampleDatabase(
            kind=self.kind,
            host=self.host,
            port=self.port,
            name=name,
            user=f"u_{suffix}",
            password=secrets.token_urlsafe(18),
        )
        try:
            self._execute(*self._create_statements(database))
        except InfrastructureError:
            # A statement part-way failed (say, a collation the server lacks): drop what
            # was created, so retries leave no orphan role or database behind.
            try:
                self.drop_sample_database(database)
            except InfrastructureError:
                pass
            raise
        return database

    def drop_sample_database(self, database: SampleDatabase) -> None:
        self._execute(*self._drop_statements(database))

    @abstractmethod
    def _create_statements(self, database: SampleDatabase) -> list[str]: ...

    @abstractmethod
    def _drop_statements(self, database: SampleDatabase) -> list[str]: ...

    @abstractmethod
    def _reset_statements(self, database: SampleDatabase) -> list[str]: ...

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self.owner is not None:
            self.owner.stop()


class PostgresServer(DatabaseServer):
    kind = "postgres"
    default_port = 5432

    def _create_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"CREATE ROLE {database.user} LOGIN PASSWORD '{database.password}'"
            f" CONNECTION LIMIT {SAMPLE_CONNECTION_LIMIT}",
            f"CREATE DATABASE {database.name} OWNER {database.user} TEMPLATE template0"
            f" ENCODING 'UTF8' LC_COLLATE '{POSTGRES_COLLATION}'"
            f" LC_CTYPE '{POSTGRES_COLLATION}'",
            f"REVOKE ALL ON DATABASE {database.name} FROM PUBLIC",
        ]

    def drop_sample_database(self, database: SampleDatabase) -> None:
        """Drop it, and its statement statistics with it (best effort: a server given by
        URL may not load pg_stat_statements), so a long run never fills
        pg_stat_statements and evicts the counts a later N+1 check reads."""
        oids = self._execute(
            "SELECT r.oid || ',' || d.oid FROM pg_roles r, pg_database d"
            f" WHERE r.rolname = '{database.user}' AND d.datname = '{database.name}'"
        )
        super().drop_sample_database(database)
        for pair in oids:
            role, dbid = pair.split(",")
            try:
                self._execute(f"SELECT pg_stat_statements_reset({role}, {dbid}, 0)")
            except InfrastructureError:
                return

    def _drop_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)",
            f"DROP ROLE IF EXISTS {database.user}",
        ]

    def _reset_statements(self, database: SampleDatabase) -> list[str]:
        return [f"ALTER ROLE {database.user} LOGIN PASSWORD '{database.password}'"]


class MySQLServer(DatabaseServer):
    kind = "mysql"
    default_port = 3306

    def _create_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"CREATE DATABASE {database.name} CHARACTER SET {MYSQL_CHARSET}"
            f" COLLATE {MYSQL_COLLATION}",
            f"CREATE USER '{database.user}'@'%' IDENTIFIED BY '{database.password}'"
            f" WITH MAX_USER_CONNECTIONS {SAMPLE_CONNECTION_LIMIT}",
            f"GRANT ALL PRIVILEGES ON {database.name}.* TO '{database.user}'@'%'",
        ]

    def _drop_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"DROP DATABASE IF EXISTS {database.name}",
            f"DROP USER IF EXISTS '{database.user}'@'%'",
        ]

    def _reset_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"ALTER USER '{database.user}'@'%' IDENTIFIED BY '{database.password}' ACCOUNT UNLOCK"
        ]


def engine_label(kind: str, version: str) -> str:
    """`postgres 15.8`, `mariadb 10.11.6`, `mysql 8.4.0` from a `SELECT version()`."""
    if kind == "postgres":
        words = version.split()
        number = words[1] if len(words) > 1 and words[0] == "PostgreSQL" else version
        return f"postgres {number}"
    family = "mariadb" if "mariadb" in version.lower() else "mysql"
    return f"{family} {version.split('-', 1)[0].strip()}"


SERVER_CLASSES: dict[str, type[DatabaseServer]] = {"postgres": PostgresServer, "mysql": MySQLServer}


def connect_server(kind: str, url: str) -> DatabaseServer:
    """A server the user runs (HARNESS_POSTGRES_URL / HARNESS_MYSQL_URL)."""
    server = SERVER_CLASSES[kind](sync_admin_url(kind, url))
    server.version()
    return server


def server_alive(server: DatabaseServer) -> bool:
    """Whether the server still answers (a dead one makes rows infra errors)."""
    try:
        server.version()
    except InfrastructureError:
        return False
    return True
