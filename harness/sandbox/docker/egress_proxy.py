"""An allow-listing HTTP proxy: a sandboxed agent's only way out, to its model endpoint.

A `command:` agent's container sits on an internal docker network with no route out;
its HTTP_PROXY / HTTPS_PROXY name this proxy, which listens on the host at that
network's gateway address. The proxy serves exactly two request forms, and only for
the `host:port` pairs it was given:

- `CONNECT host:port` (what clients send for https URLs): answered `200`, then bytes
  are relayed both ways (TLS stays end to end; the proxy never sees the key);
- an absolute-form request `METHOD http://host:port/path` (plain http URLs): forwarded
  to that destination in origin form with `Connection: close`, then relayed. Whatever
  else the client sends on that connection goes to the same allowed destination.

Anything else (another host or port, an origin-form request, a malformed head) gets a
`403` or `400` and is remembered in `refused`. Names are matched as given, without
resolving them: `CONNECT 1.2.3.4:443` is refused even when 1.2.3.4 is the endpoint's
address. The proxy runs an asyncio loop in a thread of the process that owns it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.core.errors import HarnessError

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 64
_CHUNK = 64 * 1024
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate"}
)


@dataclass(frozen=True)
class Destination:
    """One allowed `host:port` (host lower-case, without brackets or a trailing dot)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_endpoint(url: str) -> Destination:
    """`https://host[:port][/path]` or `http://...` -> the destination it names."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError(
            f"model endpoint {url!r} is not an http(s) URL: give https://host[:port] "
            "or http://host[:port]"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise HarnessError(f"model endpoint {url!r}: {exc}") from None
    return Destination(normalise_host(parts.hostname), port)


def _split_authority(authority: str) -> Destination | None:
    """`host:port` or `[v6]:port` -> a destination, None when malformed."""
    host, sep, port = authority.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if ":" in host and not host.startswith("["):
        return None  # an IPv6 literal must be bracketed
    return Destination(normalise_host(host), int(port))


def _absolute_target(target: str) -> tuple[Destination, str] | None:
    """`http://host[:port]/path?q` -> (destination, origin-form path), else None."""
    parts = urlsplit(target)
    if parts.scheme != "http" or not parts.hostname:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Destination(normalise_host(parts.hostname), port), path


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


class EgressProxy:
    """Listens on `bind` (port chosen by the system); relays only to `allowed`."""

    def __init__(self, bind: str, allowed: Iterable[Destination]) -> None:
        self.bind = bind
        self.allowed = frozenset(allowed)
        self.port = 0
        self.refused: list[str] = []
        self.relayed: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="egress-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    def start(self) -> EgressProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        try:
            started.result(timeout=10)
        except BaseException:
            self.close()
            raise
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.bind, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._slots.locked():
            await _close(writer)  # a flood of connections: refuse beyond the cap
            return
        self._handlers.add(task)
        try:
            async with self._slots:
                await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # closing: end quietly (asyncio logs a connection task that ends cancelled)
        finally:
            self._handlers.discard(task)
            await _close(writer)

    def _note(self, record: list[str], what: str) -> None:
        with self._lock:
            record.append(what)

    async def _answer(self, writer: asyncio.StreamWriter, status: str, message: str) -> None:
        body = f"egress proxy: {message}\n".encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            await self._answer(writer, "431 Request Header Fields Too Large", "head too large")
            return
        lines = head.decode("latin-1").split("\r\n")
        request = lines[0].split(" ")
        if len(request) != 3:
            self._note(self.refused, f"malformed: {lines[0][:200]!r}")
            await self._answer(writer, "400 Bad Request", "malformed request line")
            return
        method, target, version = request
        if method.upper() == "CONNECT":
            destination = _split_authority(target)
            path = None
        else:
            parsed = _absolute_target(target)
            destination, path = parsed if parsed else (None, None)
        if destination is None or destination not in self.allowed:
            allowed = ", ".join(sorted(str(d) for d in self.allowed)) or "none"
            self._note(self.refused, f"{method} {target[:200]}")
            await self._answer(
                writer,
                "403 Forbidden",
                f"{target[:200]} is not the agent's model endpoint (allowed: {allowed})",
            )
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(destination.host, destination.port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            await self._answer(writer, "502 Bad Gateway", f"{destination}: {exc}")
            return
        self._note(self.relayed, f"{method} {destination}")
        try:
            if path is None:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                kept = [
                    line
                    for line in lines[1:]
                    if line and line.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
                ]
                forwarded = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"])
                upstream_writer.write(forwarded.encode("latin-1") + b"\r\n\r\n")
            await asyncio.gather(_relay(reader, upstream_writer), _relay(upstream_reader, writer))
        finally:
            await _close(upstream_writer)

    def close(self) -> None:
        """Stop listening, cut every relayed connection, end the thread; idempotent."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            stopping = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                stopping.result(timeout=10)
            except (TimeoutError, RuntimeError, OSError):
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
