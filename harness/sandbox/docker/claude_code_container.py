"""Claude Code in the agent sandbox, with a throwaway database beside it.

Everything `agent_container.AgentSandbox` gives a `command:` agent (its own internal
network, egress only through the allow-listing proxy to the model endpoint, an
unprivileged user, a read-only root filesystem, limits), plus:

- the CLI's folder mounted read-only at /opt/claude-code (a native executable);
- a database server of one engine (`postgres` or `mysql`) on the same internal network
  under that alias, data on tmpfs, removed with the session: the agent runs its app
  against it through DATABASE_URL, as the graders will;
- the whole of the CLI's stdout (its stream JSON transcript), not only a tail.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker.errors
import sqlalchemy
from docker.models.containers import Container
from docker.models.networks import Network
from sqlalchemy.engine import URL

from harness.core.errors import HarnessError, InfrastructureError
from harness.sandbox.agent_run import AgentOutcome, tail
from harness.sandbox.agent_settings import CLAUDE_CODE_DIR, AgentSettings, Mount
from harness.sandbox.docker.agent_container import AgentSandbox
from harness.sandbox.docker.egress_proxy import EgressProxy
from harness.sandbox.docker.engine import (
    EngineUnavailable,
    best_effort,
    bridge_of,
    connect_engine,
    host_port_problem,
    open_host_port,
    remove_container,
    remove_network,
)
from harness.sandbox.docker.images import ensure_images
from harness.sandbox.server_settings import MYSQL_FLAGS, POSTGRES_FLAGS

DB_START_TIMEOUT_S = 90.0
DB_USER = "agent"
DB_NAME = "app"


@dataclass(frozen=True)
class SessionOutcome:
    outcome: AgentOutcome
    stdout: str  # all of it: the transcript


@dataclass(frozen=True)
class AgentDatabase:
    container: Container
    url: str  # what the agent's DATABASE_URL says (alias and internal port)


def _database_spec(kind: str, password: str) -> tuple[dict[str, str], list[str], str, int, str]:
    """Environment, command, data folder, port and the async URL of a server of `kind`."""
    if kind == "postgres":
        env = {"POSTGRES_USER": DB_USER, "POSTGRES_PASSWORD": password, "POSTGRES_DB": DB_NAME}
        url = f"postgresql+asyncpg://{DB_USER}:{password}@postgres:5432/{DB_NAME}"
        return env, ["postgres", *POSTGRES_FLAGS], "/var/lib/postgresql/data", 5432, url
    env = {
        "MYSQL_ROOT_PASSWORD": secrets.token_urlsafe(18),
        "MYSQL_DATABASE": DB_NAME,
        "MYSQL_USER": DB_USER,
        "MYSQL_PASSWORD": password,
    }
    url = f"mysql+aiomysql://{DB_USER}:{password}@mysql:3306/{DB_NAME}"
    return env, list(MYSQL_FLAGS), "/var/lib/mysql", 3306, url


def preflight() -> None:
    """What the sandbox needs, said for MODEL=claude-code: (the shared checks in
    `AgentSandbox.open` speak of `command:` agents)."""
    problem = host_port_problem()
    if problem is not None:
        raise HarnessError(
            "MODEL=claude-code: the CLI reaches its model endpoint through a proxy on the "
            "host, which needs one iptables rule per session: run the harness as root with "
            "iptables installed"
        )
    try:
        connect_engine().close()
    except EngineUnavailable as exc:
        reason = str(exc).split(": start one")[0]
        raise HarnessError(
            f"MODEL=claude-code: runs the CLI in a docker sandbox, and {reason}: start one "
            "(as root: `make docker`)"
        ) from exc


class ClaudeCodeSandbox(AgentSandbox):
    """One provider's sessions: a container and a database server per sample."""

    database_kind = "postgres"

    @classmethod
    def for_claude_code(
        cls, settings: AgentSettings, cli_dir: Path, database_kind: str, memory_mb: int
    ) -> ClaudeCodeSandbox:
        preflight()
        mount = Mount(cli_dir.resolve(), CLAUDE_CODE_DIR)
        sandbox = cls.open(replace(settings, mounts=(*settings.mounts, mount)))
        assert isinstance(sandbox, ClaudeCodeSandbox)
        sandbox.database_kind = database_kind
        # A Node-based CLI needs more room than a candidate app.
        sandbox.limits = replace(
            sandbox.limits,
            memory_mb=max(sandbox.limits.memory_mb, memory_mb),
            pids=max(sandbox.limits.pids, 512),
            tmp_mb=max(sandbox.limits.tmp_mb, 512),
        )
        return sandbox

    def describe(self) -> str:
        return f"{super().describe()} database={self.database_kind}"

    def _start_database(self, network: Network) -> AgentDatabase:
        kind = self.database_kind
        image = ensure_images(self.session.client).database(kind)
        password = secrets.token_urlsafe(18)
        env, command, data_dir, port, url = _database_spec(kind, password)
        client = self.session.client
        name = str(network.name)
        container = client.containers.create(
            image,
            command=command,
            name=f"hbe-agentdb-{kind}-{secrets.token_hex(4)}",
            labels=self.session.labels("claude-code-database"),
            environment=env,
            network=name,
            networking_config={name: client.api.create_endpoint_config(aliases=[kind])},
            tmpfs={data_dir: ""},
        )
        try:
            container.start()
            container.reload()
            address = str(container.attrs["NetworkSettings"]["Networks"][name]["IPAddress"])
            admin = URL.create(
                "postgresql+psycopg" if kind == "postgres" else "mysql+pymysql",
                username=DB_USER,
                password=password,
                host=address,
                port=port,
                database=DB_NAME,
            )
            _wait_for(admin, container)
        except BaseException:
            best_effort(lambda: remove_container(container))
            raise
        return AgentDatabase(container, url)

    def run_session(
        self, command: str, workspace: Path, prompts: Path, timeout: float, env: dict[str, str]
    ) -> SessionOutcome:
        """Run `command` beside a fresh database until it exits or `timeout`."""
        cleanups: list[Callable[[], None]] = []
        try:
            created = self.session.create_network("claude-code-network")
            cleanups.append(lambda: remove_network(created))
            database = self._start_database(created)
            cleanups.append(lambda: remove_container(database.container))
            bridge, gateway = bridge_of(created)
            proxy = EgressProxy(gateway, self.settings.endpoints).start()
            cleanups.append(proxy.close)
            cleanups.append(open_host_port(bridge, gateway, proxy.port))
            self._hand_over(workspace, prompts)
            environment = {**self._environment(proxy), **env, "DATABASE_URL": database.url}
            container = self._create(command, workspace, prompts, environment, str(created.name))
            cleanups.append(lambda: remove_container(container))
            began = time.monotonic()
            container.start()
            exit_code = self._wait(container, began + timeout)
            seconds = round(time.monotonic() - began, 3)
            if exit_code is None:
                best_effort(lambda: container.kill())
            container.reload()
            state: dict[str, Any] = container.attrs.get("State", {})
            note = (
                f" (killed: out of memory, limit {self.limits.memory_mb} MB)"
                if state.get("OOMKilled")
                else ""
            )
            stdout = container.logs(stdout=True, stderr=False)
            outcome = AgentOutcome(
                exit_code=exit_code,
                timed_out=exit_code is None,
                stdout=tail(stdout),
                stderr=tail(container.logs(stdout=False, stderr=True)),
                seconds=seconds,
                note=note,
                refused=tuple(proxy.refused),
            )
            return SessionOutcome(outcome, stdout.decode("utf-8", "replace"))
        except (docker.errors.DockerException, OSError) as exc:
            raise InfrastructureError(f"docker sandbox of Claude Code: {exc}") from exc
        finally:
            for cleanup in reversed(cleanups):
                best_effort(cleanup)


def _wait_for(admin: URL, container: Container) -> None:
    """A real connection as the agent's user, failing fast if the server exits."""
    deadline = time.monotonic() + DB_START_TIMEOUT_S
    engine = sqlalchemy.create_engine(admin, poolclass=sqlalchemy.pool.NullPool)
    last = ""
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as connection:
                    connection.execute(sqlalchemy.text("SELECT 1"))
                return
            except sqlalchemy.exc.SQLAlchemyError as exc:
                last = str(exc).splitlines()[0]
            container.reload()
            if container.status in ("exited", "dead"):
                logs = container.logs().decode("utf-8", "replace")[-2000:]
                raise InfrastructureError(f"the agent's database server exited: {logs}")
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise InfrastructureError(
        f"the agent's database server did not answer in {DB_START_TIMEOUT_S:g}s: {last}"
    )
