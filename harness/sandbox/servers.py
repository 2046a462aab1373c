"""Choose, per engine, a user-given server (by URL) or a throwaway one of our own, and
keep it alive for the run: a local server that dies is replaced.

Where servers come from is a `ServerSource`: `LocalServers` (a URL from the environment,
else a server the harness starts) or the docker backend (containers on the run's
networks; never URLs from the environment, which candidates could not reach).

A run's `ServerPool` opens a server only when a sample first needs it, and names each
engine's version without starting anything, so an unchanged re-run (every grade a cache
hit) starts no database server at all.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Protocol

from harness.core import settings
from harness.core.errors import HarnessError, InfrastructureError
from harness.core.settings import DATABASE_KINDS
from harness.sandbox.databases import DatabaseServer, connect_server, server_alive
from harness.sandbox.local.servers import (
    LocalMySQLServer,
    LocalPostgresServer,
    local_server_version,
)

SERVER_URL_ENV = {kind: setting.name for kind, setting in settings.SERVER_URLS.items()}


class ServerSource(Protocol):
    def open_server(self, kind: str) -> DatabaseServer:
        """A running server for `kind`, owned by the caller (close it)."""
        ...

    def server_version(self, kind: str) -> str:
        """What identifies the engine `open_server` gives, ideally without starting it."""
        ...

    def can_restart(self, kind: str) -> bool:
        """Whether a dead server of this kind may be replaced by the harness."""
        ...


def _check_kinds(kinds: Sequence[str]) -> None:
    for kind in kinds:
        if kind not in DATABASE_KINDS:
            raise HarnessError(f"unknown database {kind!r} (known: {', '.join(DATABASE_KINDS)})")


def _server_url(kind: str) -> str | None:
    return settings.server_url(kind)


class LocalServers:
    """Servers for the local runtime: the user's (by URL) or ones the harness starts."""

    def open_server(self, kind: str) -> DatabaseServer:
        """The server named in the environment, else a local one the harness starts."""
        url = _server_url(kind)
        if url:
            return connect_server(kind, url)
        start = LocalPostgresServer.start if kind == "postgres" else LocalMySQLServer.start
        try:
            return start()
        except InfrastructureError as exc:
            # A fresh server in a fresh folder: a bootstrap that failed once (seen when
            # several started at the same moment) usually starts the second time.
            print(
                f"harness: the {kind} server did not start ({exc}); trying again", file=sys.stderr
            )
            return start()

    def server_version(self, kind: str) -> str:
        url = _server_url(kind)
        if url is None:
            return local_server_version(kind)
        server = connect_server(kind, url)
        try:
            return server.version()
        finally:
            server.close()

    def can_restart(self, kind: str) -> bool:
        return _server_url(kind) is None  # a server the user runs is never restarted


LOCAL_SERVERS = LocalServers()


@contextmanager
def database_servers(
    kinds: Sequence[str], source: ServerSource = LOCAL_SERVERS
) -> Iterator[dict[str, DatabaseServer]]:
    """One server per engine, started now; all stopped on the way out."""
    _check_kinds(kinds)
    with ExitStack() as stack:
        servers: dict[str, DatabaseServer] = {}
        for kind in kinds:
            server = source.open_server(kind)
            stack.callback(server.close)
            servers[kind] = server
        yield servers


class ServerPool:
    """The run's servers, shared by worker threads: each opened on first use, replaced
    when it dies (if it is ours), all closed by `close`."""

    def __init__(self, kinds: Sequence[str], source: ServerSource = LOCAL_SERVERS) -> None:
        _check_kinds(kinds)
        self.kinds = list(kinds)
        self._source = source
        self._locks = {kind: threading.Lock() for kind in kinds}
        self._servers: dict[str, DatabaseServer] = {}
        self._versions: dict[str, str] = {}
        self._closed = False
        self.restarts = 0

    def get(self, kind: str) -> DatabaseServer:
        """The running server for `kind`, started on first call (one start per kind, even
        when several workers ask at once)."""
        with self._locks[kind]:
            if self._closed:
                raise HarnessError("the run's database servers are closed")
            server = self._servers.get(kind)
            if server is None:
                server = self._servers[kind] = self._source.open_server(kind)
            return server

    def version(self, kind: str) -> str:
        """The engine version of `kind` (cached), read without starting a server."""
        with self._locks[kind]:
            if kind not in self._versions:
                self._versions[kind] = self._source.server_version(kind)
            return self._versions[kind]

    def versions(self) -> dict[str, str]:
        return {kind: self.version(kind) for kind in self.kinds}

    def started(self) -> list[str]:
        """The kinds whose server this run actually started (or connected to)."""
        return [kind for kind in self.kinds if kind in self._servers]

    def recover(self, kind: str, failed: DatabaseServer) -> bool:
        """After an infra error on `failed`: replace it if it died and is ours to restart.

        Returns whether a retry can help (the server was replaced, by us or another
        thread); a server the user runs (by URL) is never restarted by the harness.
        """
        with self._locks[kind]:
            if self._servers.get(kind) is not failed:
                return True
            if server_alive(failed) or not self._source.can_restart(kind):
                return False
            print(f"harness: the {kind} server died; starting a new one", file=sys.stderr)
            del self._servers[kind]
            failed.close()
            self._servers[kind] = self._source.open_server(kind)
            self.restarts += 1
            return True

    def close(self) -> None:
        self._closed = True
        for kind in self.kinds:
            with self._locks[kind]:
                server = self._servers.pop(kind, None)
                if server is not None:
                    server.close()
