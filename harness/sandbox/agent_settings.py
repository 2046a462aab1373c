"""What a sandboxed `command:` agent is given, read from the environment and checked.

    HARNESS_COMMAND_SANDBOX   docker (default) | none (run on the host, unsandboxed)
    HARNESS_COMMAND_IMAGE     the agent's image (default: the runtime image, Python 3.11)
    HARNESS_COMMAND_MOUNTS    host:container[,...]  read-only mounts of the agent program
    HARNESS_COMMAND_ENV       NAME[,...]  host variables passed to the agent (its API key)
    HARNESS_COMMAND_ENDPOINT  https://host[:port] | http://host[:port][,...]  the only
                              destinations its egress proxy relays to
    HARNESS_COMMAND_MEMORY_MB / _CPUS / _PIDS / _TMP_MB  limits (default: the candidate
                              container's; read by agent_container)

A mount is refused when it would show the agent what it must not see: the tasks
(reference solutions, hidden tests), the graders, the harness's caches and results
(earlier answers and grades), the temporary folder (other samples' workspaces) or the
Docker socket, whether the mount lies inside one of them or holds one.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.core import settings
from harness.core.errors import HarnessError
from harness.core.settings import CACHE_DIR, PROJECT_ROOT, RESULTS_DIR, TASKS_DIR
from harness.sandbox.docker.egress_proxy import Destination, parse_endpoint

SANDBOX_ENV = settings.COMMAND_SANDBOX.name
IMAGE_ENV = settings.COMMAND_IMAGE.name
MOUNTS_ENV = settings.COMMAND_MOUNTS.name
ENV_ENV = settings.COMMAND_ENV.name
ENDPOINT_ENV = settings.COMMAND_ENDPOINT.name

WORKSPACE = "/workspace"
PROMPT_DIR = "/prompt"
# Where MODEL=claude-code: mounts the Claude Code CLI's folder, read-only.
CLAUDE_CODE_DIR = "/opt/claude-code"
# Container paths the sandbox owns (or the kernel does): no mount goes over or under them.
RESERVED = (WORKSPACE, PROMPT_DIR, "/tmp", "/proc", "/sys", "/dev")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sandbox_mode() -> str:
    """`docker` unless the user opted out with HARNESS_COMMAND_SANDBOX=none."""
    return settings.COMMAND_SANDBOX.get()


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _within(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def protected_paths() -> list[tuple[Path, bool]]:
    """(host path, whether a mount inside it is refused too). A mount that holds one is
    always refused; inside the temporary folder only a mount holding all of it is."""
    graders = PROJECT_ROOT / "harness" / "graders"
    caches = [
        CACHE_DIR,
        Path.home() / ".cache" / "backend-agent-eval",
        settings.GRADE_CACHE.get(),
        settings.RESPONSE_CACHE.get(),
        RESULTS_DIR,
    ]
    sockets = [Path("/var/run/docker.sock"), Path("/run/docker.sock")]
    inside = [TASKS_DIR, graders, *caches, *sockets]
    return [(p.resolve(), True) for p in inside] + [(Path(tempfile.gettempdir()).resolve(), False)]


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str


def _container_path(raw: str, spec: str) -> str:
    if not raw.startswith("/"):
        raise HarnessError(f"{MOUNTS_ENV}: {spec!r}: the container path must be absolute")
    path = posixpath.normpath(raw)
    if path in ("/", "//"):
        raise HarnessError(f"{MOUNTS_ENV}: {spec!r}: cannot mount over the root folder")
    for reserved in RESERVED:
        if path == reserved or path.startswith(reserved + "/") or reserved.startswith(path + "/"):
            raise HarnessError(
                f"{MOUNTS_ENV}: {spec!r}: {path} overlaps {reserved}, which the sandbox owns"
            )
    return path


def parse_mounts(value: str) -> tuple[Mount, ...]:
    """`host:container[,...]` -> read-only mounts; a clear error for any that is refused."""
    mounts: list[Mount] = []
    for spec in _items(value):
        parts = spec.split(":")
        if len(parts) != 2 or not all(parts):
            raise HarnessError(f"{MOUNTS_ENV}: {spec!r} is not host:container")
        host = Path(parts[0]).expanduser()
        if not host.is_absolute() or not host.exists():
            raise HarnessError(f"{MOUNTS_ENV}: {spec!r}: {host} is not an existing absolute path")
        host = host.resolve()
        for protected, inside_refused in protected_paths():
            if _within(protected, host) or (inside_refused and _within(host, protected)):
                raise HarnessError(
                    f"{MOUNTS_ENV}: {spec!r} would show the agent {protected}; mount only "
                    "the agent program's own folder"
                )
        mounts.append(Mount(host, _container_path(parts[1], spec)))
    return tuple(mounts)


def parse_variables(value: str) -> tuple[str, ...]:
    names = _items(value)
    for name in names:
        if not _VARIABLE.fullmatch(name):
            raise HarnessError(f"{ENV_ENV}: {name!r} is not a variable name")
        if name.startswith("HARNESS_"):
            raise HarnessError(f"{ENV_ENV}: {name} is the harness's own setting, not the agent's")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class AgentSettings:
    """Everything the sandbox takes from the user, checked once per provider."""

    image: str | None
    mounts: tuple[Mount, ...]
    variables: tuple[str, ...]
    endpoints: tuple[Destination, ...]

    @classmethod
    def from_env(cls) -> AgentSettings:
        endpoints = tuple(parse_endpoint(url) for url in _items(settings.COMMAND_ENDPOINT.get()))
        return cls(
            image=settings.COMMAND_IMAGE.get() or None,
            mounts=parse_mounts(settings.COMMAND_MOUNTS.get()),
            variables=parse_variables(settings.COMMAND_ENV.get()),
            endpoints=tuple(dict.fromkeys(endpoints)),
        )

    def environment(self) -> dict[str, str]:
        """The named host variables and their values; a missing one is an error."""
        missing = [name for name in self.variables if name not in os.environ]
        if missing:
            raise HarnessError(
                f"{ENV_ENV} names {', '.join(missing)}, which the harness's environment "
                "does not set"
            )
        return {name: os.environ[name] for name in self.variables}
