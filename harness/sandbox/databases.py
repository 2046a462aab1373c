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

from harness.errors import InfrastructureError

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
        self._execute(*self._create_statements(database))
        return database

    def drop_sample_database(self, database: SampleDatabase) -> None:
        self._execute(*self._drop_statements(database))

    @abstractmethod
    def _create_statements(self, database: SampleDatabase) -> list[str]: ...

    @abstractmethod
    def _drop_statements(self, database: SampleDatabase) -> list[str]: ...

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
            f"CREATE ROLE {database.user} LOGIN PASSWORD '{database.password}'",
            f"CREATE DATABASE {database.name} OWNER {database.user}",
            f"REVOKE ALL ON DATABASE {database.name} FROM PUBLIC",
        ]

    def _drop_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)",
            f"DROP ROLE IF EXISTS {database.user}",
        ]


class MySQLServer(DatabaseServer):
    kind = "mysql"
    default_port = 3306

    def _create_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"CREATE DATABASE {database.name} CHARACTER SET utf8mb4",
            f"CREATE USER '{database.user}'@'%' IDENTIFIED BY '{database.password}'",
            f"GRANT ALL PRIVILEGES ON {database.name}.* TO '{database.user}'@'%'",
        ]

    def _drop_statements(self, database: SampleDatabase) -> list[str]:
        return [
            f"DROP DATABASE IF EXISTS {database.name}",
            f"DROP USER IF EXISTS '{database.user}'@'%'",
        ]


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
