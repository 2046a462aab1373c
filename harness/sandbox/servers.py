"""Choose, per engine, a user-given server (by URL) or a throwaway one of our own, and
keep it alive for the run: a local server that dies is replaced.

The docker runtime passes its own opener (`DockerBackend.open_server`): its servers are
containers from testcontainers, never URLs from the environment (candidates on their
internal networks could not reach those)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

from harness.errors import HarnessError
from harness.sandbox.databases import DatabaseServer, connect_server, server_alive
from harness.sandbox.local_servers import LocalMySQLServer, LocalPostgresServer

SERVER_URL_ENV = {"postgres": "HARNESS_POSTGRES_URL", "mysql": "HARNESS_MYSQL_URL"}
ServerOpener = Callable[[str], DatabaseServer]


def _check_kinds(kinds: Sequence[str]) -> None:
    for kind in kinds:
        if kind not in SERVER_URL_ENV:
            raise HarnessError(f"unknown database {kind!r} (known: postgres, mysql)")


def open_server(kind: str) -> DatabaseServer:
    """The server for `kind`: the one named in the environment, else a local one."""
    url = os.environ.get(SERVER_URL_ENV[kind])
    if url:
        return connect_server(kind, url)
    if kind == "postgres":
        return LocalPostgresServer.start()
    return LocalMySQLServer.start()


@contextmanager
def database_servers(
    kinds: Sequence[str], opener: ServerOpener = open_server
) -> Iterator[dict[str, DatabaseServer]]:
    """One server per engine; all stopped on the way out."""
    _check_kinds(kinds)
    with ExitStack() as stack:
        servers: dict[str, DatabaseServer] = {}
        for kind in kinds:
            server = opener(kind)
            stack.callback(server.close)
            servers[kind] = server
        yield servers


class ServerPool:
    """The run's servers, shared by worker threads, with recovery from a server death."""

    def __init__(self, kinds: Sequence[str], opener: ServerOpener = open_server) -> None:
        _check_kinds(kinds)
        self._opener = opener
        self._lock = threading.Lock()
        self._servers: dict[str, DatabaseServer] = {}
        self.restarts = 0
        try:
            for kind in kinds:
                self._servers[kind] = opener(kind)
        except BaseException:
            self.close()
            raise

    @property
    def kinds(self) -> list[str]:
        return list(self._servers)

    def get(self, kind: str) -> DatabaseServer:
        with self._lock:
            return self._servers[kind]

    def versions(self) -> dict[str, str]:
        return {kind: self.get(kind).version() for kind in self.kinds}

    def recover(self, kind: str, failed: DatabaseServer) -> bool:
        """After an infra error on `failed`: replace it if it died and is ours to restart.

        Returns whether a retry can help (the server was replaced, by us or another
        thread); a server the user runs (by URL) is never restarted by the harness.
        """
        with self._lock:
            if self._servers[kind] is not failed:
                return True
            by_url = self._opener is open_server and os.environ.get(SERVER_URL_ENV[kind])
            if server_alive(failed) or by_url:
                return False
            print(f"harness: the {kind} server died; starting a new one", file=sys.stderr)
            failed.close()
            self._servers[kind] = self._opener(kind)
            self.restarts += 1
            return True

    def close(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.close()
            self._servers.clear()
