"""schemathesis hooks for the fuzz grader: its traffic must not be recognisable.

Loaded inside the schemathesis process (the run's schemathesis.toml names this file
under `hooks`); the harness imports it only for its names and patches nothing there
(`install` runs when schemathesis loads the file). schemathesis 4.x marks its
requests: `User-Agent: schemathesis/<version>`, an `X-Schemathesis-TestCaseId` header it
adds after the configured headers (so `--header` can change its value, not remove it)
and, before the run, two capability probes (`X-Schemathesis-Probe` headers, a
`/schemathesis-probe...` path). An app that recognised them could behave for the fuzzer
only. So:

- every request leaves through `requests`' HTTPAdapter, which this module wraps: it
  sends the User-Agent the grader passes in HARNESS_FUZZ_USER_AGENT (the one the hidden
  tests' httpx client sends) and drops every `X-Schemathesis-*` header. The request
  schemathesis records is the same object, so the reproductions show what was sent.
- `ignored_auth` forges its invalid credential afresh per run instead of sending the
  constant `SCHEMATHESIS-INVALID-VALUE`.
- a request to any other origin than the app's (a redirect elsewhere) is refused.
- the probes are not sent; the NUL-in-header adaptation a failed probe would trigger is
  applied up front (uvicorn refuses a NUL byte in a header before the app sees it).
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.core import settings

if TYPE_CHECKING:  # the harness imports this module for its names: no schemathesis there
    import requests

USER_AGENT_ENV = settings.FUZZ_USER_AGENT.name
ORIGIN_ENV = settings.FUZZ_ORIGIN.name  # scheme://host:port of the app: nothing else is sent to
MARKER_PREFIX = "x-schemathesis-"

_original_send: Any = None


def neutral_headers(headers: Any, user_agent: str) -> None:
    """Rewrite a request's headers in place: our User-Agent, no schemathesis marker."""
    for name in [name for name in headers if name.lower().startswith(MARKER_PREFIX)]:
        del headers[name]
    headers["User-Agent"] = user_agent


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _send(
    self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any
) -> requests.Response:
    import requests

    if origin(str(request.url)) != settings.FUZZ_ORIGIN.get():
        raise requests.ConnectionError(f"refused: {request.url} is not the app's origin")
    neutral_headers(request.headers, settings.FUZZ_USER_AGENT.get())
    response: requests.Response = _original_send(self, request, **kwargs)
    return response


def _skip_probe(probe: Any, ctx: Any) -> Any:
    """The probe, reported as skipped without sending anything (as schemathesis does
    for a probe it cannot run), so it adapts nothing."""
    from schemathesis.engine.run import probes

    return probes.ProbeRun(probe, probes.ProbeOutcome.SKIP)


def after_load_schema(context: Any, schema: Any) -> None:
    schema.adapt_to_null_byte_in_header_failure()


def forged_credential() -> str:
    """A fresh, JWT-shaped invalid credential for `ignored_auth`'s forged-token requests
    (schemathesis' own is the constant `SCHEMATHESIS-INVALID-VALUE`)."""
    return ".".join(secrets.token_urlsafe(size) for size in (27, 45, 32))


def _forge_credentials() -> None:
    from schemathesis.specs.openapi import _auth_retry

    credential = forged_credential()
    pair = base64.b64encode(f"{credential}:{credential}".encode()).decode()
    _auth_retry.INVALID_CREDENTIAL = credential
    _auth_retry.INVALID_AUTH_HEADERS = {
        "_basic_auth": f"Basic {pair}",
        "_bearer_auth": f"Bearer {credential}",
    }


def install() -> None:
    """Patch the transport and register the hook (in the schemathesis process only)."""
    for setting in (settings.FUZZ_USER_AGENT, settings.FUZZ_ORIGIN):
        if not setting.is_set():
            # Without them the run would identify itself or could leave the app: refuse,
            # so the run fails loudly.
            raise RuntimeError(f"{setting.name} is not set")
    import requests.adapters
    import schemathesis
    from schemathesis.engine.run import probes

    global _original_send
    _original_send = requests.adapters.HTTPAdapter.send
    requests.adapters.HTTPAdapter.send = _send  # type: ignore[method-assign, assignment]
    probes.send = _skip_probe
    _forge_credentials()
    schemathesis.hook(after_load_schema)


# schemathesis loads a hooks file under this module name; an import elsewhere (a test)
# only gets the functions.
if __name__ == "_schemathesis_hooks":
    install()
