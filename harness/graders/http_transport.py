"""The one transport every grader's HTTP client uses (the hidden tests' client, the
security and fuzz probes, the coverage measure): a request is sent again, once, on a
fresh connection when the kept-alive connection it went out on turns out closed.

uvicorn closes a connection after an unhandled exception in the app; the next request,
already on its way over that connection, fails with "Server disconnected" or a reset
before any response byte. Which request that is depends on timing, so without the retry
a defective app's grade changes from run to run (seen on mutants: a security check
counted "not verified" in some runs only). A second failure is the app's answer."""

from __future__ import annotations

import httpx

STALE_CONNECTION_ERRORS = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


def is_stale_connection(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, STALE_CONNECTION_ERRORS) and ("reset" in text or "disconnected" in text)


class StaleConnectionRetry(httpx.HTTPTransport):
    """An HTTP transport that retries a request once when its connection was stale."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except STALE_CONNECTION_ERRORS as exc:
            if not is_stale_connection(exc):
                raise
            return super().handle_request(request)
