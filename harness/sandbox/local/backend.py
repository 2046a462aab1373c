"""The local backend: the local runtime and the servers it grades against."""

from __future__ import annotations

from harness.sandbox.backend import Closing
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.local.runtime import LocalRuntime
from harness.sandbox.local.runtime_venv import ensure_runtime_venv
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import LOCAL_SERVERS


class LocalBackend(Closing):
    """Candidates as sandboxed subprocesses from the runtime venv (built when missing);
    servers given by URL (HARNESS_POSTGRES_URL, HARNESS_MYSQL_URL) or started here."""

    name = "local"

    def __init__(self, run_id: str | None = None) -> None:
        self.runtime: Runtime = LocalRuntime(ensure_runtime_venv())

    def open_server(self, kind: str) -> DatabaseServer:
        return LOCAL_SERVERS.open_server(kind)

    def server_version(self, kind: str) -> str:
        return LOCAL_SERVERS.server_version(kind)

    def can_restart(self, kind: str) -> bool:
        return LOCAL_SERVERS.can_restart(kind)

    def describe(self) -> dict[str, str]:
        return self.runtime.describe()

    def close(self) -> None:
        pass
