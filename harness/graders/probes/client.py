"""A loopback-only HTTP client for probing a candidate, bounded in requests and time.

Every exchange is recorded so a grader can scan what the app said (leaked hashes,
stack traces, secrets) after the probes that provoked it.

One policy for every grader, the one the hidden tests' httpx client follows too:

- Redirects are followed, at most `MAX_REDIRECTS` of them and only within the app's own
  origin (never to another host), with httpx's rules for each hop (a 307/308 repeats the
  request as sent, a 303 and a 301/302 to a non-GET become a GET). So the common
  `@router.post("/")` under a prefix, which Starlette answers with a 307 to `/users/`,
  is probed like any other route. What a redirect did is kept on the `Exchange`.
- Every request carries the same neutral headers as the hidden tests' client: httpx's
  defaults, `User-Agent: python-httpx/<version>`, and nothing that names the grader.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.graders.http_transport import StaleConnectionRetry

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# What an httpx client sends by default, and so what the hidden tests send.
NEUTRAL_USER_AGENT = f"python-httpx/{httpx.__version__}"
MAX_REDIRECTS = 3


def is_loopback_url(url: str, sandbox_hosts: Collection[str] = ()) -> bool:
    """True when `url` is plain http(s) to a loopback address, or to one of
    `sandbox_hosts` (a container the harness created for the candidate, on its own
    internal network): the only places we probe."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname in _LOOPBACK_NAMES or parts.hostname in sandbox_hosts:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class ProbeBudgetExceeded(Exception):
    """The grader spent its request or time budget; the remaining probes do not run."""


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (`status` 0 when nothing came back)."""

    method: str
    path: str
    request_body: str | None
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    # Redirects followed to get here, each `<status> <METHOD> <path>` of the next request.
    redirects: tuple[str, ...] = ()
    # The method of the request that was answered (a 303 turns a POST into a GET).
    final_method: str = ""

    @property
    def redirected_away(self) -> bool:
        """Whether the answer is not the app's answer to the request as sent: a redirect
        left unfollowed (to another host, or one too many) or one that changed the
        request's method. Such an answer is never evidence of what the request did."""
        changed = bool(self.final_method) and self.final_method != self.method
        return 300 <= self.status < 400 or changed

    def json(self) -> Any:
        """The response body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def describe(self, limit: int = 300) -> str:
        """`METHOD path -> status body` on one line, for evidence."""
        body = self.text if len(self.text) <= limit else self.text[:limit] + "..."
        sent = ""
        if self.request_body:
            sent = " " + (
                self.request_body
                if len(self.request_body) <= limit
                else self.request_body[:limit] + "..."
            )
        hops = "".join(f" -> {hop}" for hop in self.redirects)
        return f"{self.method} {self.path}{sent}{hops} -> {self.status} {body}"


class ProbeClient:
    """Sends requests to one loopback (or sandbox) base URL, within `max_requests` and a
    deadline."""

    def __init__(
        self,
        base_url: str,
        *,
        max_requests: int,
        budget_s: float,
        timeout_s: float = 5.0,
        sandbox_hosts: Collection[str] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not is_loopback_url(base_url, sandbox_hosts):
            raise ValueError(
                f"refusing to probe a URL that is neither loopback nor the candidate's "
                f"sandbox: {base_url}"
            )
        self.base_url = base_url.rstrip("/")
        self.max_requests = max_requests
        self.deadline = time.monotonic() + budget_s
        self.exchanges: list[Exchange] = []
        self._origin = _origin(httpx.URL(self.base_url))
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": NEUTRAL_USER_AGENT},
            transport=transport or StaleConnectionRetry(),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ProbeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: str | None = None,
        params: dict[str, str] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """One request; transport errors become status 0, never exceptions."""
        if len(self.exchanges) >= self.max_requests:
            raise ProbeBudgetExceeded(f"request budget of {self.max_requests} spent")
        if time.monotonic() > self.deadline:
            raise ProbeBudgetExceeded("time budget spent")
        if not path.startswith("/"):
            raise ValueError(f"probe paths are relative to the app: {path!r}")
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        body_text: str | None = content
        if json_body is not None:
            body_text = json.dumps(json_body)
            sent_headers.setdefault("Content-Type", "application/json")
        shown_path = path
        if params:
            shown_path += "?" + str(httpx.QueryParams(params))
        try:
            request = self._client.build_request(
                method, path, content=body_text, params=params, headers=sent_headers
            )
            response, hops = self._follow(request)
            exchange = Exchange(
                method=method,
                path=shown_path,
                request_body=body_text,
                status=response.status_code,
                text=response.text,
                headers={k.lower(): v for k, v in response.headers.items()},
                redirects=hops,
                final_method=response.request.method,
            )
        except httpx.HTTPError as exc:
            exchange = Exchange(
                method=method,
                path=shown_path,
                request_body=body_text,
                status=0,
                text=f"<no response: {exc.__class__.__name__}>",
            )
        self.exchanges.append(exchange)
        return exchange

    def _follow(self, request: httpx.Request) -> tuple[httpx.Response, tuple[str, ...]]:
        """Send, then follow same-origin redirects (at most MAX_REDIRECTS)."""
        response = self._client.send(request)
        hops: list[str] = []
        while response.next_request is not None and len(hops) < MAX_REDIRECTS:
            following = response.next_request
            if _origin(following.url) != self._origin:
                break
            where = following.url.raw_path.decode("ascii", "replace")
            hops.append(f"{response.status_code} {following.method} {where}")
            response = self._client.send(following)
        return response, tuple(hops)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default
