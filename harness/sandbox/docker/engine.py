"""The Docker engine as the docker runtime sees it: a probe with clear errors, the labels
every harness resource carries, the sweep of dead runs' leftovers, and the host firewall
rule that keeps containers from opening connections to the host.

Every container, network and volume the harness creates carries `LABEL_RUN` (the run
id) and `LABEL_OWNER` (host, pid and pid start time of the harness process). A run
removes its own resources when it ends; a sweep at the start and end of every run
removes those of owners that no longer exist (a harness killed with SIGKILL), so
nothing outlives a run for long even without Ryuk (testcontainers' reaper, which needs
a registry to pull from).

Network design (why the firewall rules): each candidate gets its own `internal` bridge
network holding only itself and its database server (alias `postgres` / `mysql`).
Internal networks have no route out and no published ports; the harness reaches the
app at its address on that bridge, which works from the host on Linux because the
host holds the bridge's gateway address. That same gateway address would let the app
connect to services listening on the host's wildcard addresses, so an INPUT rule
rejects every connection a harness bridge (`hbe-*`) opens to the host (replies to the
host's own connections, ESTABLISHED, still pass), and a DOCKER-USER rule rejects at
once whatever a harness bridge sends elsewhere (docker's isolation rules would drop it
silently, leaving egress attempts to hang until their timeout). The one exception is a
sandboxed `command:` agent's bridge: `open_host_port` lets it reach its egress proxy's
port on its own gateway address, and only for as long as the sample runs.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from harness.core import settings
from harness.core.errors import InfrastructureError

LABEL_PREFIX = "io.backend-agent-eval"
LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_OWNER = f"{LABEL_PREFIX}.owner"
LABEL_ROLE = f"{LABEL_PREFIX}.role"
BRIDGE_PREFIX = "hbe-"
PROBE_TIMEOUT_S = 3.0
API_TIMEOUT_S = 120.0
FIREWALL_ENV = settings.DOCKER_FIREWALL.name
_COMMENT = ["-m", "comment", "--comment", "backend-agent-eval candidate isolation"]
# (binary, chain, match + target): containers on harness bridges may not open
# connections to the host, and whatever they send towards other networks is rejected at
# once (docker's own isolation rules would drop it silently, so attempts would hang).
_FIREWALL_RULES: list[tuple[str, str, list[str]]] = [
    (
        "iptables",
        "INPUT",
        ["-i", f"{BRIDGE_PREFIX}+", "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED"]
        + _COMMENT
        + ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
    ),
    (
        "iptables",
        "DOCKER-USER",
        ["-i", f"{BRIDGE_PREFIX}+", "!", "-o", f"{BRIDGE_PREFIX}+"]
        + _COMMENT
        + ["-j", "REJECT", "--reject-with", "icmp-net-unreachable"],
    ),
    (
        "ip6tables",
        "INPUT",
        ["-i", f"{BRIDGE_PREFIX}+", "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED"]
        + _COMMENT
        + ["-j", "REJECT"],
    ),
]


class EngineUnavailable(InfrastructureError):
    """No Docker engine answers, or it answers but cannot be used."""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _engine_hint() -> str:
    return (
        "start one (as root: scripts/start-docker.sh installs docker.io and starts dockerd) "
        "or use the local runtime (RUNTIME=local)"
    )


def connect_engine(timeout_s: float = API_TIMEOUT_S) -> docker.DockerClient:
    """A client on the engine, after a short ping; a clear error when none answers."""
    address = engine_address()
    try:
        probe = docker.from_env(timeout=int(PROBE_TIMEOUT_S))
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=int(timeout_s))
    except docker.errors.DockerException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise EngineUnavailable(
            f"no Docker engine answers at {address} ({reason}): {_engine_hint()}"
        ) from exc
    except OSError as exc:
        raise EngineUnavailable(
            f"no Docker engine answers at {address} ({exc}): {_engine_hint()}"
        ) from exc


def engine_answers() -> tuple[bool, str]:
    """Whether an engine answers, and what it is (or why not)."""
    try:
        client = connect_engine(timeout_s=PROBE_TIMEOUT_S)
    except EngineUnavailable as exc:
        return False, str(exc)
    try:
        return True, f"Docker {engine_version(client)} at {engine_address()}"
    finally:
        client.close()


def engine_version(client: docker.DockerClient) -> str:
    return str(client.version().get("Version", "?"))


def is_local_engine() -> bool:
    return engine_address().startswith("unix://")


# -- owners: who created a resource, and whether it is still alive ----------------------


def _process_start_ticks(pid: int) -> str:
    """The start time of a process (clock ticks since boot): with the pid, an identity."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return "0"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), _process_start_ticks(os.getpid()))

    @classmethod
    def parse(cls, value: str) -> Owner | None:
        parts = value.rsplit(":", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def label(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}"

    def alive(self) -> bool:
        """Dead only when provably so: same host, and that process is gone or reused."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return _process_start_ticks(self.pid) == self.started


# -- the sweep --------------------------------------------------------------------------


@dataclass
class Leftovers:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes)

    def __str__(self) -> str:
        return (
            f"containers {self.containers or '-'}, networks {self.networks or '-'}, "
            f"volumes {self.volumes or '-'}"
        )


def _labelled(
    client: docker.DockerClient, label: str
) -> tuple[list[Container], list[Network], list[Volume]]:
    containers = client.containers.list(all=True, filters={"label": label})
    networks = client.networks.list(filters={"label": label})
    volumes = client.volumes.list(filters={"label": label})
    return containers, networks, volumes


def leftovers(client: docker.DockerClient, run_id: str) -> Leftovers:
    """Everything still labelled with `run_id`."""
    containers, networks, volumes = _labelled(client, f"{LABEL_RUN}={run_id}")
    return Leftovers(
        containers=[str(c.name) for c in containers],
        networks=[str(n.name) for n in networks],
        volumes=[str(v.name) for v in volumes],
    )


def _labels_of(resource: Any) -> dict[str, str]:
    attrs = cast(dict[str, Any], resource.attrs)
    labels = attrs.get("Labels")
    if labels is None:
        labels = attrs.get("Config", {}).get("Labels")
    return dict(labels or {})


def remove_container(container: Container) -> None:
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise


def remove_network(network: Network) -> None:
    """Disconnect whatever is still attached (a shared database server), then remove."""
    try:
        network.reload()
        attached = cast(dict[str, Any], network.attrs.get("Containers") or {})
        for container_id in attached:
            try:
                network.disconnect(container_id, force=True)
            except docker.errors.APIError:
                pass
        network.remove()
    except docker.errors.NotFound:
        pass


def _remove_all(
    containers: list[Container], networks: list[Network], volumes: list[Volume]
) -> list[str]:
    problems: list[str] = []
    for container in containers:
        try:
            remove_container(container)
        except docker.errors.APIError as exc:
            problems.append(f"container {container.name}: {exc}")
    for network in networks:
        try:
            remove_network(network)
        except docker.errors.APIError as exc:
            problems.append(f"network {network.name}: {exc}")
    for volume in volumes:
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"volume {volume.name}: {exc}")
    return problems


def remove_run(client: docker.DockerClient, run_id: str) -> list[str]:
    """Remove every resource labelled with `run_id`; returns what could not be removed."""
    return _remove_all(*_labelled(client, f"{LABEL_RUN}={run_id}"))


def sweep_dead_runs(client: docker.DockerClient) -> list[str]:
    """Remove the resources of harness processes that no longer exist; returns run ids."""
    containers, networks, volumes = _labelled(client, LABEL_OWNER)

    def dead(resource: Any) -> bool:
        owner = Owner.parse(_labels_of(resource).get(LABEL_OWNER, ""))
        return owner is not None and not owner.alive()

    doomed = (
        [c for c in containers if dead(c)],
        [n for n in networks if dead(n)],
        [v for v in volumes if dead(v)],
    )
    runs = sorted({_labels_of(r).get(LABEL_RUN, "?") for group in doomed for r in group})
    _remove_all(*doomed)
    return runs


# -- the host firewall rule -------------------------------------------------------------


def _binary(name: str) -> str | None:
    found = shutil.which(name) or f"/usr/sbin/{name}"
    return found if os.path.exists(found) else None


def _rule_command(binary: str, action: str, chain: str, rule: list[str]) -> list[str]:
    return [binary, "-w", action, chain, *(["1"] if action == "-I" else []), *rule]


def firewall_commands() -> list[str]:
    """The rules as shell commands, for an operator installing them by hand."""
    return [
        " ".join(
            f"'{part}'" if " " in part or part == "!" else part
            for part in _rule_command(binary, "-I", chain, rule)
        )
        for binary, chain, rule in _FIREWALL_RULES
    ]


def ensure_host_firewall() -> str:
    """Install (once per boot) the rules that keep harness bridges off the host.

    Returns how the rules are provided. `HARNESS_DOCKER_FIREWALL=external` says the
    operator installed them (e.g. as root, before running the harness unprivileged).
    """
    if settings.DOCKER_FIREWALL.get() == "external":
        return "external"
    if not is_local_engine():
        raise EngineUnavailable(
            f"the docker runtime needs a local engine (DOCKER_HOST={engine_address()}): it "
            "reaches candidates on their internal bridge and firewalls that bridge on the host"
        )
    if os.geteuid() != 0 or _binary("iptables") is None:
        raise EngineUnavailable(
            "the docker runtime needs host firewall rules that stop candidate containers "
            "from connecting to the host; as root, run once per boot:\n  "
            + "\n  ".join(firewall_commands())
            + f"\nthen set {FIREWALL_ENV}=external (or run the harness as root, which adds them)"
        )
    provided: list[str] = []
    for name, chain, rule in _FIREWALL_RULES:
        binary = _binary(name)
        if binary is None:
            continue
        check = subprocess.run(
            _rule_command(binary, "-C", chain, rule),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check.returncode == 0:
            provided.append(f"{name} {chain}: present")
            continue
        inserted = subprocess.run(
            _rule_command(binary, "-I", chain, rule),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if inserted.returncode == 0:
            provided.append(f"{name} {chain}: added")
        elif (name, chain) == ("iptables", "INPUT"):
            raise EngineUnavailable(
                f"could not add the host firewall rule ({inserted.stderr.strip()}); as root "
                f"run: {firewall_commands()[0]}"
            )
        else:
            # DOCKER-USER exists only with docker's iptables integration, and containers
            # have IPv6 off: these make attempts fail fast, the INPUT rule is the wall.
            provided.append(f"{name} {chain}: unavailable ({inserted.stderr.strip()[:80]})")
    return ", ".join(provided)


# -- a run's session on the engine ------------------------------------------------------


def new_bridge_name() -> str:
    """A Linux interface name (15 chars max) the host firewall rule matches."""
    return BRIDGE_PREFIX + secrets.token_hex(6)[:11]


class DockerSession:
    """One run's use of the engine: labels, the shared admin network, cleanup.

    Opening sweeps dead runs' leftovers and installs the host firewall rule; closing
    removes everything labelled with this run id, then sweeps again.
    """

    def __init__(
        self, run_id: str | None = None, client: docker.DockerClient | None = None
    ) -> None:
        self.run_id = run_id or f"adhoc-{secrets.token_hex(4)}"
        self.client = client or connect_engine()
        self.owner = Owner.current()
        self.firewall = ""
        self.swept: list[str] = []
        self._lock = threading.Lock()
        self._admin_network: Network | None = None
        self._endpoints: dict[tuple[str, int], DatabaseEndpoint] = {}
        self._closed = False

    def open(self) -> DockerSession:
        self.swept = sweep_dead_runs(self.client)
        self.firewall = ensure_host_firewall()
        return self

    def labels(self, role: str) -> dict[str, str]:
        return {LABEL_RUN: self.run_id, LABEL_OWNER: self.owner.label(), LABEL_ROLE: role}

    def create_network(self, role: str) -> Network:
        """An internal bridge network (no route out), firewalled from the host."""
        try:
            return self.client.networks.create(
                f"hbe-{self.run_id[-40:]}-{secrets.token_hex(4)}",
                driver="bridge",
                internal=True,
                labels=self.labels(role),
                options={
                    "com.docker.network.bridge.name": new_bridge_name(),
                    "com.docker.network.bridge.enable_ip_masquerade": "false",
                },
                check_duplicate=True,
            )
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"could not create a docker network: {exc}") from exc

    def admin_network(self) -> Network:
        """The run's network for its database servers (the harness reaches them there)."""
        with self._lock:
            if self._admin_network is None:
                self._admin_network = self.create_network("database-network")
            return self._admin_network

    # Database servers register where the harness reaches them, so a candidate's
    # runtime can find the container (and alias) behind a sample database.
    def register_endpoint(self, endpoint: DatabaseEndpoint) -> None:
        with self._lock:
            self._endpoints[(endpoint.host, endpoint.port)] = endpoint

    def unregister_endpoint(self, endpoint: DatabaseEndpoint) -> None:
        with self._lock:
            self._endpoints.pop((endpoint.host, endpoint.port), None)

    def endpoint(self, host: str, port: int) -> DatabaseEndpoint:
        with self._lock:
            found = self._endpoints.get((host, port))
        if found is None:
            raise InfrastructureError(
                f"no docker database server of this run at {host}:{port}: the docker "
                "runtime needs the run's servers from harness.sandbox.docker.servers"
            )
        return found

    def leftovers(self) -> Leftovers:
        return leftovers(self.client, self.run_id)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            remove_run(self.client, self.run_id)
            sweep_dead_runs(self.client)
        except docker.errors.DockerException:
            pass
        finally:
            self.client.close()

    def __enter__(self) -> DockerSession:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class DatabaseEndpoint:
    """A database server container: where the harness reaches it, and where candidates do."""

    kind: str
    host: str
    port: int
    container_id: str
    alias: str
    internal_port: int


def best_effort(action: Callable[[], None]) -> None:
    """Cleanup that must not mask the error that led to it."""
    try:
        action()
    except (docker.errors.DockerException, OSError):
        pass


# -- an opening in the wall: a host port one harness bridge may reach -------------------

PROXY_RULE_COMMENT = "backend-agent-eval agent proxy"


def bridge_of(network: Network) -> tuple[str, str]:
    """(the host's interface name of a harness network, its gateway address on the host)."""
    network.reload()
    attrs: dict[str, Any] = network.attrs
    bridge = str((attrs.get("Options") or {}).get("com.docker.network.bridge.name", ""))
    configs = (attrs.get("IPAM") or {}).get("Config") or [{}]
    gateway = str(configs[0].get("Gateway", "")).split("/")[0]
    if not bridge.startswith(BRIDGE_PREFIX) or not gateway:
        raise InfrastructureError(
            f"docker network {network.name} has no harness bridge or gateway "
            f"(bridge {bridge!r}, gateway {gateway!r})"
        )
    return bridge, gateway


def _opening_rule(bridge: str, address: str, port: int, owner: Owner) -> list[str]:
    return [
        "-i", bridge, "-d", f"{address}/32", "-p", "tcp", "-m", "tcp", "--dport", str(port),
        "-m", "comment", "--comment", f"{PROXY_RULE_COMMENT} {owner.label()}", "-j", "ACCEPT",
    ]  # fmt: skip


def _iptables(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(arguments, capture_output=True, text=True, timeout=30, check=False)


def host_port_problem() -> str | None:
    """Why `open_host_port` cannot work here (it needs root and iptables), or None."""
    if os.geteuid() == 0 and _binary("iptables") is not None:
        return None
    return (
        "a sandboxed command: agent reaches its model endpoint through a proxy on the host, "
        "which needs one iptables rule per sample: run the harness as root (with iptables "
        "installed), or leave HARNESS_COMMAND_ENDPOINT unset for an agent that needs no network"
    )


def open_host_port(bridge: str, address: str, port: int) -> Callable[[], None]:
    """Let containers on `bridge` open TCP connections to `address:port` on the host (a
    sandboxed agent's egress proxy): one INPUT rule inserted ahead of the rule that
    rejects everything else harness bridges send to the host. Returns the function that
    removes it; rules of harness processes that died are removed by `sweep_dead_openings`.
    """
    problem = host_port_problem()
    binary = _binary("iptables")
    if problem is not None or binary is None:
        raise EngineUnavailable(problem or "iptables is missing")
    rule = _opening_rule(bridge, address, port, Owner.current())
    inserted = _iptables(_rule_command(binary, "-I", "INPUT", rule))
    if inserted.returncode != 0:
        raise EngineUnavailable(
            f"could not open {address}:{port} to {bridge} ({inserted.stderr.strip()})"
        )

    def close() -> None:
        _iptables(_rule_command(binary, "-D", "INPUT", rule))

    return close


def sweep_dead_openings() -> int:
    """Remove the host-port openings of harness processes that no longer exist."""
    binary = _binary("iptables")
    if os.geteuid() != 0 or binary is None:
        return 0
    listing = _iptables([binary, "-w", "-S", "INPUT"])
    removed = 0
    for line in listing.stdout.splitlines():
        if PROXY_RULE_COMMENT not in line or not line.startswith("-A INPUT "):
            continue
        words = shlex.split(line)
        comment = words[words.index("--comment") + 1] if "--comment" in words else ""
        owner = Owner.parse(comment.removeprefix(PROXY_RULE_COMMENT).strip())
        if owner is not None and not owner.alive():
            removed += _iptables([binary, "-w", "-D", *words[1:]]).returncode == 0
    return removed
