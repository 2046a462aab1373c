"""PostgreSQL and MySQL servers in containers, started with testcontainers: one per engine
per run, shared by every sample (each sample still gets its own database and user from
`DatabaseServer.create_sample_database`).

A server container sits on the run's internal admin network, where the harness reaches
it at the container's address (no published port, nothing on the host's interfaces);
candidates reach it on their own network under an alias (`postgres` / `mysql`) and the
internal port, which is what their DATABASE_URL names: testcontainers'
`get_connection_url()` would give the host-mapped port, useless inside a container.

Readiness is the harness's own: a real admin connection, failing fast when the
container exits (testcontainers' waits would sit out their whole timeout), and a failed
start removes its container (Ryuk, testcontainers' reaper, is disabled: it needs a
registry; the run's labels and sweep do its job).
"""

from __future__ import annotations

import secrets
from typing import Any

import docker.errors
from sqlalchemy.engine import URL
from testcontainers.community.mysql import MySqlContainer
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from harness.core.errors import InfrastructureError
from harness.core.settings import DATABASE_KINDS
from harness.sandbox.databases import DatabaseServer, MySQLServer, PostgresServer
from harness.sandbox.docker.engine import (
    DatabaseEndpoint,
    DockerSession,
    best_effort,
    remove_container,
)
from harness.sandbox.server_settings import (
    ADMIN_USER,
    MYSQL_FLAGS,
    POSTGRES_FLAGS,
    wait_until_accepting,
)

testcontainers_config.ryuk_disabled = True

START_TIMEOUT_S = 120.0


class _HarnessPostgresContainer(PostgresContainer):
    def _connect(self) -> None:
        """The harness waits on a real connection itself (see `_wait_until_accepting`)."""


class _HarnessMySqlContainer(MySqlContainer):
    def _connect(self) -> None:
        """The official image logs "ready for connections" twice, MariaDB once: wait on a
        real connection instead (see `_wait_until_accepting`)."""


class _ServerContainer:
    """The container behind a server, and its registration with the run's session."""

    def __init__(
        self, container: DockerContainer, session: DockerSession, endpoint: DatabaseEndpoint
    ) -> None:
        self.container = container
        self.session = session
        self.endpoint = endpoint

    def status(self) -> tuple[str, int | None]:
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        state: dict[str, Any] = wrapped.attrs.get("State", {})
        return str(state.get("Status", "?")), state.get("ExitCode")

    def log_tail(self, limit: int = 3000) -> str:
        try:
            logs = self.container.get_wrapped_container().logs(tail=60)
        except docker.errors.DockerException:
            return ""
        return logs.decode("utf-8", errors="replace")[-limit:]

    def stop(self) -> None:
        self.session.unregister_endpoint(self.endpoint)
        best_effort(lambda: remove_container(self.container.get_wrapped_container()))


class DockerServer(DatabaseServer):
    """A server in a container of the run: where the harness reaches it, and its image."""

    def __init__(self, admin_url: URL, owned: _ServerContainer, image: str) -> None:
        super().__init__(admin_url, owned)
        self.endpoint: DatabaseEndpoint = owned.endpoint
        self.image = image


class DockerPostgresServer(DockerServer, PostgresServer):
    """A PostgreSQL server container (default image `postgres:16`)."""


class DockerMySQLServer(DockerServer, MySQLServer):
    """A MySQL-protocol server container (default image `mysql:8.4`; MariaDB offline)."""


def _container_for(kind: str, image: str, password: str) -> tuple[DockerContainer, str, int]:
    """The testcontainers container for `kind`, its data folder and its port."""
    if kind == "postgres":
        postgres = _HarnessPostgresContainer(
            image, username=ADMIN_USER, password=password, dbname="postgres", driver=None
        )
        postgres.with_command(["postgres", *POSTGRES_FLAGS])
        return postgres, "/var/lib/postgresql/data", 5432
    if kind == "mysql":
        mysql = _HarnessMySqlContainer(
            image, username="root", root_password=password, password=password, dbname="harness"
        )
        mysql.with_command(list(MYSQL_FLAGS))
        return mysql, "/var/lib/mysql", 3306
    raise InfrastructureError(f"unknown database {kind!r} (known: {', '.join(DATABASE_KINDS)})")


def start_docker_server(kind: str, session: DockerSession, image: str) -> DockerServer:
    """Start one server container on the run's admin network and wait until it answers."""
    password = secrets.token_urlsafe(18)
    container, data_dir, port = _container_for(kind, image, password)
    network = session.admin_network()
    container.with_name(f"hbe-db-{kind}-{secrets.token_hex(4)}")
    container.ports.clear()  # nothing published: the harness uses the admin network
    container.with_tmpfs_mount(data_dir)  # data in memory, no volume left behind
    container.with_kwargs(
        labels=session.labels("database"),
        network=str(network.name),
        hostname=kind,
        sysctls={"net.ipv4.ip_forward": "0"},
    )
    try:
        container.start()
    except (docker.errors.DockerException, OSError) as exc:
        if container._container is not None:
            best_effort(lambda: remove_container(container.get_wrapped_container()))
        raise InfrastructureError(
            f"could not start the {kind} server container from {image}: {exc}"
        ) from exc
    try:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        networks: dict[str, Any] = wrapped.attrs["NetworkSettings"]["Networks"]
        host = str(networks[str(network.name)]["IPAddress"])
        endpoint = DatabaseEndpoint(
            kind=kind,
            host=host,
            port=port,
            container_id=str(wrapped.id),
            alias=kind,
            internal_port=port,
        )
        owned = _ServerContainer(container, session, endpoint)
        session.register_endpoint(endpoint)
        server: DockerServer
        if kind == "postgres":
            url = URL.create(
                "postgresql+psycopg",
                username=ADMIN_USER,
                password=password,
                host=host,
                port=port,
                database="postgres",
            )
            server = DockerPostgresServer(url, owned, image)
        else:
            url = URL.create(
                "mysql+pymysql", username="root", password=password, host=host, port=port
            )
            server = DockerMySQLServer(url, owned, image)
    except BaseException:
        best_effort(lambda: remove_container(container.get_wrapped_container()))
        raise
    try:
        _wait_until_accepting(server, owned)
    except BaseException:
        server.close()
        raise
    return server


def _wait_until_accepting(server: DatabaseServer, owned: _ServerContainer) -> None:
    """A real admin connection; fail fast (with the server's log) when the container exits."""

    def ended() -> str | None:
        try:
            status, code = owned.status()
        except docker.errors.DockerException as exc:
            raise InfrastructureError(f"{server.kind} server container vanished: {exc}") from exc
        return f"container exited with {code}" if status in ("exited", "dead") else None

    wait_until_accepting(server, ended, START_TIMEOUT_S, owned.log_tail)
