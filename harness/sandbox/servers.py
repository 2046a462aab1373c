"""Choose, per engine, a user-given server (by URL) or a throwaway one of our own."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from harness.errors import HarnessError
from harness.sandbox.databases import DatabaseServer, connect_server
from harness.sandbox.local_servers import LocalMySQLServer, LocalPostgresServer

SERVER_URL_ENV = {"postgres": "HARNESS_POSTGRES_URL", "mysql": "HARNESS_MYSQL_URL"}


def open_server(kind: str) -> DatabaseServer:
    """The server for `kind`: the one named in the environment, else a local one."""
    url = os.environ.get(SERVER_URL_ENV[kind])
    if url:
        return connect_server(kind, url)
    if kind == "postgres":
        return LocalPostgresServer.start()
    return LocalMySQLServer.start()


@contextmanager
def database_servers(kinds: Sequence[str]) -> Iterator[dict[str, DatabaseServer]]:
    """One server per engine for the whole run; all stopped on the way out."""
    for kind in kinds:
        if kind not in SERVER_URL_ENV:
            raise HarnessError(f"unknown database {kind!r} (known: postgres, mysql)")
    with ExitStack() as stack:
        servers: dict[str, DatabaseServer] = {}
        for kind in kinds:
            server = open_server(kind)
            stack.callback(server.close)
            servers[kind] = server
        yield servers
