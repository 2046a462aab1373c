"""Byte relays between a sandboxed candidate and the outside: pure standard library, run
as a script (`python -I -S -c <this source> MODE ...`), never imported by the app.

host mode (on the host, one per app, owned and killed by the harness):
    relay host --listen-fd N --target HOST:PORT
  accepts on the inherited listening socket N (the Unix socket the sandbox's database
  connections arrive on) and connects each to HOST:PORT (the real database server).

sandbox mode (inside the sandbox, started by bubblewrap in place of the app):
    relay sandbox --app-fd N --ready-fd R --app-port P --db-port D --db-socket PATH -- CMD
  binds 127.0.0.1:D (the app's DATABASE_URL port, forwarded to the Unix socket PATH),
  then forks: the child relays, accepting on the inherited listening socket N (the
  harness's loopback TCP port the graders call) and connecting each to 127.0.0.1:P (the
  app); the parent writes one byte to R (the sandbox is up: any failure from now on is
  the candidate's) and execs CMD (uvicorn), so the app is the sandbox's main process and
  its exit ends the sandbox, relay included.

Nothing here parses the bytes it carries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

# asyncio (and ctypes) are imported where used: asyncio alone takes ~50 ms to import,
# and in sandbox mode the app's start must not wait for it.
if TYPE_CHECKING:
    import asyncio

    Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    Connector = Callable[[], Awaitable[Streams]]

CHUNK = 65536
BACKLOG = 128
_PR_SET_PDEATHSIG = 1


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then pass the EOF on (half-close)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.transport.abort()


async def _splice(client: Streams, connect: Connector) -> None:
    """Join one accepted connection to a fresh connection to the target; a target that
    refuses closes the client at once."""
    import asyncio

    client_reader, client_writer = client
    try:
        target_reader, target_writer = await connect()
    except OSError:
        client_writer.transport.abort()
        return
    try:
        await asyncio.gather(
            _pump(client_reader, target_writer), _pump(target_reader, client_writer)
        )
    finally:
        for writer in (client_writer, target_writer):
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# asyncio keeps only a weak hold on a connection's handler once the client is gone: hold
# each one until it ends, or it may be collected mid-splice.
_HANDLERS: set[asyncio.Future[object]] = set()


async def _serve(listener: socket.socket, connect: Connector) -> asyncio.Server:
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            _HANDLERS.add(task)
            task.add_done_callback(_HANDLERS.discard)
        _no_delay(writer)
        await _splice((reader, writer), connect)

    listener.setblocking(False)
    return await asyncio.start_server(handle, sock=listener, limit=CHUNK)


def _tcp(host: str, port: int) -> Connector:
    async def connect() -> Streams:
        import asyncio

        reader, writer = await asyncio.open_connection(host, port, limit=CHUNK)
        _no_delay(writer)
        return reader, writer

    return connect


def _unix(path: str) -> Connector:
    async def connect() -> Streams:
        import asyncio

        return await asyncio.open_unix_connection(path, limit=CHUNK)

    return connect


async def _run_forever(routes: Sequence[tuple[socket.socket, Connector]]) -> None:
    import asyncio

    for listener, connect in routes:
        await _serve(listener, connect)
    await asyncio.get_running_loop().create_future()  # until killed


def _relay_forever(routes: Sequence[tuple[socket.socket, Connector]]) -> None:
    import asyncio

    asyncio.run(_run_forever(routes))


def _exit_on_signals() -> None:
    """Stop at once on SIGTERM/SIGINT: open connections are cut, nothing else to save."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: os._exit(0))


def _inherited(fd: int) -> socket.socket:
    """A listening socket handed down by the parent (family detected from the fd)."""
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    return sock


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def run_host(listen_fd: int, target: str) -> None:
    host, port = _host_port(target)
    _die_with_parent()
    _exit_on_signals()
    _relay_forever([(_inherited(listen_fd), _tcp(host, port))])


def run_sandbox(
    app_fd: int, ready_fd: int, app_port: int, db_port: int, db_socket: str, command: list[str]
) -> None:
    database = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    database.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    database.bind(("127.0.0.1", db_port))
    database.listen(BACKLOG)
    app = _inherited(app_fd)
    if os.fork() == 0:
        os.close(ready_fd)
        _die_with_parent()
        _exit_on_signals()
        try:
            _relay_forever([(app, _tcp("127.0.0.1", app_port)), (database, _unix(db_socket))])
        finally:
            os._exit(0)
    # The listeners are the relay's now: the app must not hold them.
    app.close()
    database.close()
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    os.execvp(command[0], command)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="relay")
    modes = parser.add_subparsers(dest="mode", required=True)
    host = modes.add_parser("host")
    host.add_argument("--listen-fd", type=int, required=True)
    host.add_argument("--target", required=True)
    sandbox = modes.add_parser("sandbox")
    sandbox.add_argument("--app-fd", type=int, required=True)
    sandbox.add_argument("--ready-fd", type=int, required=True)
    sandbox.add_argument("--app-port", type=int, required=True)
    sandbox.add_argument("--db-port", type=int, required=True)
    sandbox.add_argument("--db-socket", required=True)
    sandbox.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.mode == "host":
        run_host(args.listen_fd, args.target)
        return
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("sandbox mode needs a command after --")
    run_sandbox(args.app_fd, args.ready_fd, args.app_port, args.db_port, args.db_socket, command)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1:])
