"""Every grader's HTTP client (the hidden tests' and the probe client of security, fuzz
and coverage): a kept-alive connection the server closed (what uvicorn does after an
app's unhandled exception) costs a retry on a fresh connection, not the next check; a
refused connection is still an error."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import httpx
import pytest

from harness.graders.http_transport import StaleConnectionRetry
from harness.graders.probes.client import ProbeClient

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def _read_request(connection: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


@pytest.fixture
def resetting_server() -> Iterator[tuple[str, list[int]]]:
    """Answers the first request of each connection, then resets the connection when a
    second request arrives on it. Yields its URL and the connections it accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            if _read_request(connection):
                connection.sendall(OK)
            if _read_request(connection):
                # An abortive close: the client sees "connection reset by peer".
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    listener.close()


def test_a_reset_kept_alive_connection_is_retried_once_on_a_new_one(
    resetting_server: tuple[str, list[int]],
) -> None:
    url, accepted = resetting_server
    with httpx.Client(base_url=url, transport=StaleConnectionRetry(), timeout=5) as client:
        assert client.get("/first").text == "ok"
        assert client.get("/second").text == "ok"
    assert len(accepted) == 2
    # Without it, the second request fails: the failure the retry exists for.
    with httpx.Client(base_url=url, timeout=5) as plain:
        assert plain.get("/first").text == "ok"
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            plain.get("/second")


def test_a_refused_connection_is_still_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        httpx.Client(transport=StaleConnectionRetry(), timeout=5) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"http://127.0.0.1:{port}/")


def test_the_probe_client_retries_a_reset_kept_alive_connection_too(
    resetting_server: tuple[str, list[int]],
) -> None:
    """Security's "not verified" once depended on which probe met the closed connection."""
    url, accepted = resetting_server
    with ProbeClient(url, max_requests=5, budget_s=30) as client:
        assert client.send("GET", "/first").status == 200
        second = client.send("GET", "/second")
    assert (second.status, second.text) == (200, "ok")
    assert len(accepted) == 2
