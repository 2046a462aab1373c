"""Runtimes as backends: what `harness eval`, `grade` and `selftest` run candidates on.

A backend pairs the runtime candidates boot in (`Runtime`) with the place the database
servers come from (a `ServerSource`): the local backend (subprocesses from the shared
runtime venv, in a bubblewrap sandbox where this machine allows; servers by URL or
started here) and the docker backend (locked-down containers; server containers on the
run's networks). `BACKENDS` registers them; `resolve_backend` is the one place that
decides what `auto` means; `open_backend` opens one (close it, or use it as a context
manager).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from harness.core.errors import HarnessError
from harness.core.settings import SERVER_URLS
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime

AUTO = "auto"


class Backend(Protocol):
    """A runtime and its database servers, open until `close`."""

    name: str

    @property
    def runtime(self) -> Runtime:
        """Where candidates boot."""
        ...

    def open_server(self, kind: str) -> DatabaseServer:
        """A running server for `kind`, owned by the caller (close it)."""
        ...

    def server_version(self, kind: str) -> str:
        """What identifies the engine `open_server` gives, ideally without starting it."""
        ...

    def can_restart(self, kind: str) -> bool:
        """Whether a dead server of this kind may be replaced by the harness."""
        ...

    def describe(self) -> dict[str, str]:
        """The backend as recorded in run.json (the runtime and, for docker, its images)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Closing:
    """The `with` half of a backend: leaving the block closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _open_local(run_id: str | None) -> Backend:
    from harness.sandbox.local.backend import LocalBackend

    return LocalBackend(run_id)


def _open_docker(run_id: str | None) -> Backend:
    from harness.sandbox.docker.backend import DockerBackend  # imports the docker SDK

    return DockerBackend(run_id)


# The backends by name: adding a runtime is one module and one line here.
BACKENDS: dict[str, Callable[[str | None], Backend]] = {
    "local": _open_local,
    "docker": _open_docker,
}
# What `--runtime` accepts.
RUNTIMES = (AUTO, *BACKENDS)


def resolve_backend(requested: str) -> str:
    """The backend's name: `local` or `docker` as asked. `auto` takes docker when it can
    run here (an engine answers, the host firewall rule is in place, the images exist or
    can be built) and no database server is given by URL; otherwise local, saying why."""
    if requested not in RUNTIMES:
        raise HarnessError(f"unknown runtime {requested!r} (known: {', '.join(RUNTIMES)})")
    by_url = [setting.name for setting in SERVER_URLS.values() if setting.is_set()]
    if requested == "docker" and by_url:
        print(
            f"harness: the docker runtime starts its own database containers; "
            f"{', '.join(by_url)} ignored",
            file=sys.stderr,
        )
    if requested != AUTO:
        return requested
    if by_url:
        reason: str | None = f"database servers given by URL ({', '.join(by_url)})"
    else:
        from harness.sandbox.docker.backend import docker_unavailable_reason

        reason = docker_unavailable_reason()
    if reason is None:
        return "docker"
    from harness.sandbox.local.namespace import sandbox_unavailable_reason, warn_unsandboxed_once

    unsandboxed = sandbox_unavailable_reason()
    if unsandboxed is None:
        print(
            f"harness: runtime auto: local, sandboxed with bubblewrap (not docker: {reason})",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(
            f"harness: runtime auto: local WITHOUT a sandbox (not docker: {reason}; "
            f"no bubblewrap sandbox: {unsandboxed})",
            file=sys.stderr,
            flush=True,
        )
        warn_unsandboxed_once(unsandboxed)
    return "local"


def open_backend(name: str, run_id: str | None = None) -> Backend:
    """Open the backend `name` (`auto` is resolved first); the caller closes it.

    Docker: the engine session (labels, sweep of dead runs, host firewall), the images
    (built when missing); server containers it opens are removed when it closes."""
    if name == AUTO:
        name = resolve_backend(name)
    try:
        opener = BACKENDS[name]
    except KeyError:
        raise HarnessError(f"unknown runtime {name!r} (known: {', '.join(RUNTIMES)})") from None
    return opener(run_id)
