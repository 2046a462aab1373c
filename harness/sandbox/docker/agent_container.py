"""A `command:` agent in a locked-down container: it sees its workspace and its prompt.

The container (the runtime image, or HARNESS_COMMAND_IMAGE) mounts only:

    /workspace   the sample's empty workspace, writable: what the agent leaves is graded
    /prompt      prompt.md, system.md, user.md, read-only
    HARNESS_COMMAND_MOUNTS   the agent program itself, read-only (see agent_settings)

It runs as an unprivileged user with the candidate containers' limits: memory without
swap, CPU, processes, a read-only root filesystem with a tmpfs /tmp, every capability
dropped, no-new-privileges. Its environment is built from nothing: the four HARNESS_*
paths, HOME/TMPDIR/LANG, the proxy variables, and the host variables the user named
(HARNESS_COMMAND_ENV); nothing else of the host's.

Network: with no endpoint configured the container has none at all. With one, it gets
its own internal bridge network (no route out; the host firewall rejects whatever it
sends to the host or elsewhere) and HTTP(S)_PROXY naming an `EgressProxy` on the host,
listening on that network's gateway address and relaying only to the endpoint; one
INPUT rule (`docker_engine.open_host_port`) lets that bridge, and only it, reach that
port. Containers and networks carry the session's labels, so a killed harness's
leftovers are swept like the candidates'.
"""

from __future__ import annotations

import atexit
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.networks import Network

from harness.core import settings
from harness.core.errors import HarnessError, InfrastructureError
from harness.sandbox.agent_run import CONTAINER_PATHS, AgentOutcome, tail
from harness.sandbox.agent_settings import PROMPT_DIR, SANDBOX_ENV, WORKSPACE, AgentSettings
from harness.sandbox.docker.app import APP_UID, UNROUTABLE_DNS, AppLimits
from harness.sandbox.docker.egress_proxy import EgressProxy
from harness.sandbox.docker.engine import (
    DockerSession,
    EngineUnavailable,
    best_effort,
    bridge_of,
    connect_engine,
    host_port_problem,
    open_host_port,
    remove_container,
    remove_network,
    sweep_dead_openings,
)
from harness.sandbox.docker.images import ensure_images, image_present, pull

_FIX = (
    "start one (as root: `make docker`), or set HARNESS_COMMAND_SANDBOX=none to run the "
    "agent unsandboxed on this host, where it can read the harness's environment (API keys) "
    "and files (the tasks' reference solutions and hidden tests)"
)


def _resolve_image(client: docker.DockerClient, settings: AgentSettings) -> str:
    if settings.image is None:
        return ensure_images(client).runtime
    if not image_present(client, settings.image):
        pull(client, settings.image, lambda message: print(f"harness: {message}", file=sys.stderr))
    return settings.image


def _limit(setting: settings.Setting[float | None], default: float) -> float:
    value = setting.get()
    return default if value is None else value


def agent_limits() -> AppLimits:
    """The candidate container's limits (HARNESS_DOCKER_*), overridable for agents
    (HARNESS_COMMAND_MEMORY_MB, _CPUS, _PIDS, _TMP_MB)."""
    base = AppLimits.from_env()
    return AppLimits(
        memory_mb=int(_limit(settings.COMMAND_MEMORY, base.memory_mb)),
        cpus=_limit(settings.COMMAND_CPUS, base.cpus),
        pids=int(_limit(settings.COMMAND_PIDS, base.pids)),
        tmp_mb=int(_limit(settings.COMMAND_TMP, base.tmp_mb)),
    )


class AgentSandbox:
    """One provider's use of the engine: a labelled session; a container per sample."""

    def __init__(self, settings: AgentSettings, session: DockerSession, image: str) -> None:
        self.settings = settings
        self.session = session
        self.image = image
        self.limits = agent_limits()
        # The user the agent runs as: the runtime image's unprivileged user when the
        # harness is root (it hands the workspace over), else the harness's own user.
        self.uid, self.gid = (APP_UID, APP_UID) if os.geteuid() == 0 else (os.getuid(), os.getgid())

    @classmethod
    def open(cls, settings: AgentSettings) -> AgentSandbox:
        """Connect, check the firewall, find the image; a clear refusal when impossible."""
        try:
            client = connect_engine()
        except EngineUnavailable as exc:
            reason = str(exc).split(": start one")[0]
            raise HarnessError(
                f"MODEL=command: runs the agent in a docker sandbox, and {reason}: {_FIX}"
            ) from exc
        problem = host_port_problem() if settings.endpoints else None
        if problem is not None:
            client.close()
            raise HarnessError(f"MODEL=command: {problem}")
        try:
            settings.environment()  # every variable the user named is set
        except HarnessError:
            client.close()
            raise
        session = DockerSession(f"command-agent-{secrets.token_hex(4)}", client)
        try:
            session.open()
            sweep_dead_openings()
            sandbox = cls(settings, session, _resolve_image(client, settings))
        except (HarnessError, docker.errors.DockerException) as exc:
            session.close()
            raise HarnessError(
                f"MODEL=command: cannot sandbox the agent ({exc}); or set {SANDBOX_ENV}=none "
                "to run it unsandboxed on this host"
            ) from exc
        atexit.register(sandbox.close)
        return sandbox

    def describe(self) -> str:
        """What the agent ran in: part of the response cache key."""
        egress = ",".join(str(d) for d in self.settings.endpoints) or "none"
        return f"sandbox=docker image={self.image} egress={egress}"

    def _environment(self, proxy: EgressProxy | None) -> dict[str, str]:
        env = {
            settings.AGENT_WORKSPACE.name: str(CONTAINER_PATHS["workspace"]),
            settings.AGENT_PROMPT_FILE.name: str(CONTAINER_PATHS["prompt"]),
            settings.AGENT_SYSTEM_FILE.name: str(CONTAINER_PATHS["system"]),
            settings.AGENT_USER_FILE.name: str(CONTAINER_PATHS["user"]),
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
        }
        if proxy is not None:
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
                env[name] = proxy.url
        return {**self.settings.environment(), **env}  # the sandbox's own values win

    def _hand_over(self, workspace: Path, prompts: Path) -> None:
        """The workspace writable by the agent's user, the prompts readable by it."""
        if os.geteuid() == 0:
            os.chown(workspace, self.uid, self.gid)
        workspace.chmod(0o755)
        prompts.chmod(0o755)
        for path in prompts.iterdir():
            path.chmod(0o644)

    def _create(
        self, command: str, workspace: Path, prompts: Path, env: dict[str, str], network: str
    ) -> Container:
        limits = self.limits
        volumes = {
            str(workspace): {"bind": WORKSPACE, "mode": "rw"},
            str(prompts): {"bind": PROMPT_DIR, "mode": "ro"},
            **{str(m.host): {"bind": m.container, "mode": "ro"} for m in self.settings.mounts},
        }
        networking: dict[str, Any] = (
            {"network_mode": "none"}
            if network == "none"
            else {
                "network": network,
                "dns": [UNROUTABLE_DNS],
                "dns_opt": ["timeout:1", "attempts:1"],
            }
        )
        return self.session.client.containers.create(
            self.image,
            entrypoint=["/bin/sh", "-c"],
            command=[command],
            name=f"hbe-agent-{secrets.token_hex(6)}",
            labels=self.session.labels("command-agent"),
            environment=env,
            user=f"{self.uid}:{self.gid}",
            working_dir=WORKSPACE,
            hostname="agent",
            init=True,
            # Unlike a candidate's, an agent's /tmp may hold programs its tools run.
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
            volumes=volumes,
            sysctls={"net.ipv6.conf.all.disable_ipv6": "1"} if network != "none" else None,
            **networking,
            **limits.container_options(),
        )

    @staticmethod
    def _wait(container: Container, deadline: float) -> int | None:
        """The exit status, or None when the deadline passed first."""
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                return int(container.wait(timeout=max(remaining, 0.05))["StatusCode"])
            except (requests.exceptions.RequestException, docker.errors.APIError):
                continue  # the wait's own timeout (or a hiccup): look again until the deadline
        return None

    def run(self, command: str, workspace: Path, prompts: Path, timeout: float) -> AgentOutcome:
        """Run `command` (rendered with CONTAINER_PATHS) until it exits or `timeout`."""
        cleanups: list[Callable[[], None]] = []
        try:
            proxy: EgressProxy | None = None
            network = "none"
            if self.settings.endpoints:
                created: Network = self.session.create_network("command-agent-network")
                cleanups.append(lambda: remove_network(created))
                bridge, gateway = bridge_of(created)
                proxy = EgressProxy(gateway, self.settings.endpoints).start()
                cleanups.append(proxy.close)
                cleanups.append(open_host_port(bridge, gateway, proxy.port))
                network = str(created.name)
            self._hand_over(workspace, prompts)
            container = self._create(command, workspace, prompts, self._environment(proxy), network)
            cleanups.append(lambda: remove_container(container))
            began = time.monotonic()
            container.start()
            exit_code = self._wait(container, began + timeout)
            seconds = round(time.monotonic() - began, 3)
            if exit_code is None:
                best_effort(lambda: container.kill())  # everything in it dies with it
            container.reload()
            state: dict[str, Any] = container.attrs.get("State", {})
            note = ""
            if state.get("OOMKilled"):
                note = f" (killed: out of memory, limit {self.limits.memory_mb} MB)"
            return AgentOutcome(
                exit_code=exit_code,
                timed_out=exit_code is None,
                stdout=tail(container.logs(stdout=True, stderr=False)),
                stderr=tail(container.logs(stdout=False, stderr=True)),
                seconds=seconds,
                note=note,
                refused=tuple(proxy.refused) if proxy is not None else (),
            )
        except (docker.errors.DockerException, OSError) as exc:
            raise InfrastructureError(f"docker sandbox of the agent: {exc}") from exc
        finally:
            for cleanup in reversed(cleanups):
                best_effort(cleanup)

    def close(self) -> None:
        self.session.close()
