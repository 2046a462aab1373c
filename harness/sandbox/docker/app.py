"""The docker runtime: each candidate app in its own locked-down container.

The container runs the prebuilt runtime image (exactly the pinned packages) as an
unprivileged user, with the candidate's files mounted read-only at /app, a read-only
root filesystem and a small tmpfs at /tmp, memory / CPU / process limits, every
capability dropped and no-new-privileges.

Network: a fresh `internal` bridge network per candidate holds only the candidate and
its database server (joined under the alias `postgres` / `mysql`); DATABASE_URL names
that alias and the server's internal port. An internal network has no route out, so
egress is impossible; candidates of parallel samples sit on different networks and
cannot reach each other. The harness reaches the app at its address on that bridge
(the host holds the bridge's gateway address on Linux); the host firewall rule of
`docker_engine.ensure_host_firewall` stops the app from opening connections to the host
through that same address. The embedded DNS resolves only the network's own names:
its upstream is an unroutable address.

Readiness: fail fast when the container exits (its output stream ends; OOM kills are
named), then any HTTP answer on /openapi.json. The app's output goes, capped, to the
sample's `app.log`. A failed start removes whatever it created.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.types import LogConfig, Ulimit

from harness.core import settings
from harness.core.errors import InfrastructureError
from harness.core.settings import APP_LOG_LIMIT_BYTES
from harness.sandbox.databases import SampleDatabase
from harness.sandbox.docker.engine import (
    DatabaseEndpoint,
    DockerSession,
    best_effort,
    remove_container,
    remove_network,
)
from harness.sandbox.readiness import BootOutcome, wait_until_ready

APP_PORT = 8000
APP_UID = 10001
# An address no container can route to: the embedded DNS then has no upstream, so
# only names on the candidate's own network (its database alias) resolve; a lookup of
# any other name fails after a second rather than glibc's default ten.
UNROUTABLE_DNS = "198.51.100.1"


@dataclass(frozen=True)
class AppLimits:
    """Resource limits of a candidate container (env overrides in parentheses)."""

    memory_mb: int = int(settings.DOCKER_MEMORY.default)  # HARNESS_DOCKER_MEMORY_MB
    cpus: float = settings.DOCKER_CPUS.default  # HARNESS_DOCKER_CPUS
    pids: int = int(settings.DOCKER_PIDS.default)  # HARNESS_DOCKER_PIDS
    tmp_mb: int = int(settings.DOCKER_TMP.default)  # HARNESS_DOCKER_TMP_MB

    @classmethod
    def from_env(cls) -> AppLimits:
        return cls(
            memory_mb=int(settings.DOCKER_MEMORY.get()),
            cpus=settings.DOCKER_CPUS.get(),
            pids=int(settings.DOCKER_PIDS.get()),
            tmp_mb=int(settings.DOCKER_TMP.get()),
        )

    def container_options(self) -> dict[str, Any]:
        """The docker `run` options every locked-down container of the harness shares
        (candidates and CLI agents): these limits, no capabilities, no new privileges,
        a read-only root and capped engine logs."""
        return {
            "read_only": True,
            "mem_limit": f"{self.memory_mb}m",
            "memswap_limit": f"{self.memory_mb}m",
            "nano_cpus": int(self.cpus * 1e9),
            "pids_limit": self.pids,
            "ulimits": [
                Ulimit(name="nofile", soft=1024, hard=1024),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="fsize", soft=64 * 2**20, hard=64 * 2**20),
            ],
            "oom_score_adj": 1000,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "log_config": LogConfig(
                type=LogConfig.types.JSON, config={"max-size": "4m", "max-file": "1"}
            ),
        }


class _LogPump:
    """Copies the container's output into `path`, capped.

    Up to the cap the output is kept as it comes. Past it, only the last `TAIL_BYTES` of
    each stream are kept (a crash's traceback is at the end of stderr, and the engine
    does not keep the order between stdout and stderr), written after a line saying how
    much was dropped. `ended` is set when the stream ends: the container stopped (or
    was removed).
    """

    TAIL_BYTES = 32 * 1024

    def __init__(self, container: Container, path: Path, limit: int) -> None:
        self.path = path
        self.head_limit = max(0, limit - 2 * self.TAIL_BYTES - 256)
        self.written = 0
        self.dropped = 0
        self.ended = threading.Event()
        self._tails = (bytearray(), bytearray())  # stdout, stderr
        self._lock = threading.Lock()
        self._stream: Any = container.attach(
            stdout=True, stderr=True, stream=True, logs=True, demux=True
        )
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _keep(self, out: BinaryIO, chunk: bytes, tail: bytearray) -> None:
        kept = chunk[: max(0, self.head_limit - self.written)]
        if kept:
            out.write(kept)
            out.flush()
            self.written += len(kept)
        rest = chunk[len(kept) :]
        if rest:
            with self._lock:
                tail += rest
                excess = len(tail) - self.TAIL_BYTES
                if excess > 0:
                    del tail[:excess]
                    self.dropped += excess

    def _drain(self) -> None:
        frames: Iterator[tuple[bytes | None, bytes | None]] = iter(self._stream)
        try:
            with self.path.open("wb") as out:
                try:
                    for stdout, stderr in frames:
                        if stdout:
                            self._keep(out, stdout, self._tails[0])
                        if stderr:
                            self._keep(out, stderr, self._tails[1])
                except (docker.errors.DockerException, OSError, ValueError):
                    pass
                out.write(self._tail_bytes())
        finally:
            self.ended.set()

    def _tail_bytes(self) -> bytes:
        with self._lock:
            stdout, stderr = bytes(self._tails[0]), bytes(self._tails[1])
            dropped = self.dropped
        if not stdout and not stderr:
            return b""
        return (
            f"\n[harness: log capped, {dropped} bytes dropped; the last output of each "
            "stream follows]\n[harness: stdout]\n".encode()
            + stdout
            + b"\n[harness: stderr]\n"
            + stderr
        )

    def close(self, timeout: float = 5.0) -> None:
        best_effort(self._stream.close)
        self._thread.join(timeout)

    def tail(self, limit: int = 3000) -> str:
        """The last output (stderr last), also while the pump still runs."""
        data = b""
        if not self.ended.is_set():
            data = self._tail_bytes()
        if not data:
            try:
                data = self.path.read_bytes()
            except OSError:
                pass
        return data[-limit:].decode("utf-8", errors="replace")


class DockerApp:
    """One candidate app container bound to one sample database."""

    def __init__(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        log_path: Path,
        jwt_secret: str | None,
        *,
        session: DockerSession,
        image: str,
        limits: AppLimits,
    ) -> None:
        self.files = files
        self.database = database
        self.log_path = log_path
        self.jwt_secret = jwt_secret
        self.session = session
        self.image = image
        self.limits = limits
        self.address = "127.0.0.1"
        self.staging: Path | None = None
        self.network: Network | None = None
        self.container: Container | None = None
        self.log: _LogPump | None = None
        self.endpoint: DatabaseEndpoint | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{APP_PORT}"

    @property
    def sandboxed(self) -> bool:
        return True

    @property
    def sandbox_hosts(self) -> tuple[str, ...]:
        """The container's address on its own internal network (no other candidate and
        nothing outside is on it)."""
        return () if self.address == "127.0.0.1" else (self.address,)

    @property
    def database_url(self) -> str:
        """The candidate's DATABASE_URL: the server's alias and internal port."""
        assert self.endpoint is not None
        inside = replace(self.database, host=self.endpoint.alias, port=self.endpoint.internal_port)
        return inside.app_url

    def _environment(self) -> dict[str, str]:
        env = {
            "DATABASE_URL": self.database_url,
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",
        }
        if self.jwt_secret is not None:
            env["JWT_SECRET"] = self.jwt_secret
        return env

    def _stage_files(self) -> Path:
        """The candidate's files in a folder the container mounts read-only."""
        staging = Path(tempfile.mkdtemp(prefix="harness-docker-app-")).resolve()
        for relative, content in self.files.items():
            target = (staging / relative).resolve()
            if not target.is_relative_to(staging):
                continue  # extraction reports such paths; never write outside the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        for root, dirs, names in os.walk(staging):
            os.chmod(root, 0o755)
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        return staging

    def _launch(self) -> None:
        self.endpoint = self.session.endpoint(self.database.host, self.database.port)
        self.staging = self._stage_files()
        client = self.session.client
        self.network = self.session.create_network("candidate-network")
        self.network.connect(self.endpoint.container_id, aliases=[self.endpoint.alias])
        limits = self.limits
        self.container = client.containers.create(
            self.image,
            command=[
                "python",
                "-m",
                "uvicorn",
                "main:app",
                "--host",
                "0.0.0.0",
                "--port",
                str(APP_PORT),
                "--no-server-header",
            ],
            name=f"hbe-app-{secrets.token_hex(6)}",
            labels=self.session.labels("candidate"),
            environment=self._environment(),
            user=f"{APP_UID}:{APP_UID}",
            working_dir="/app",
            hostname="candidate",
            tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmp_mb}m,mode=1777"},
            volumes={str(self.staging): {"bind": "/app", "mode": "ro"}},
            network=str(self.network.name),
            dns=[UNROUTABLE_DNS],
            dns_opt=["timeout:1", "attempts:1"],
            sysctls={"net.ipv6.conf.all.disable_ipv6": "1"},
            **limits.container_options(),
        )
        self.container.start()
        self.container.reload()
        networks: dict[str, Any] = self.container.attrs["NetworkSettings"]["Networks"]
        self.address = str(networks[str(self.network.name)]["IPAddress"])
        self.log = _LogPump(self.container, self.log_path, APP_LOG_LIMIT_BYTES)

    def start(self, timeout_s: float) -> BootOutcome:
        started = time.monotonic()
        try:
            self._launch()
        except (InfrastructureError, docker.errors.DockerException, OSError) as exc:
            self.stop()
            return BootOutcome(
                False,
                time.monotonic() - started,
                "the docker runtime could not start the app",
                infra_error=f"docker runtime: {exc.__class__.__name__}: {exc}",
            )
        try:
            return self._wait_until_ready(started, timeout_s)
        except docker.errors.DockerException as exc:
            return BootOutcome(
                False,
                time.monotonic() - started,
                "the docker engine failed while the app started",
                infra_error=f"docker runtime: {exc.__class__.__name__}: {exc}",
            )

    def _state(self) -> dict[str, Any]:
        assert self.container is not None
        self.container.reload()
        state: dict[str, Any] = self.container.attrs.get("State", {})
        return state

    def _exit_outcome(self, started: float, state: dict[str, Any]) -> BootOutcome:
        assert self.log is not None
        self.log.ended.wait(timeout=10.0)  # the output still in flight (a traceback)
        code = state.get("ExitCode")
        note = ""
        if state.get("OOMKilled"):
            note = f" (killed: out of memory, limit {self.limits.memory_mb} MB)"
        return BootOutcome(
            False,
            time.monotonic() - started,
            f"app exited with code {code}{note} before it was ready:\n" + self.log.tail(),
        )

    def _wait_until_ready(self, started: float, timeout_s: float) -> BootOutcome:
        """Ready = any HTTP answer; the container's state is read when its log ends, and
        at most once a second otherwise."""
        assert self.log is not None
        log = self.log
        next_state_check = time.monotonic() + 1.0

        def exited() -> BootOutcome | None:
            nonlocal next_state_check
            if not log.ended.is_set() and time.monotonic() < next_state_check:
                return None
            next_state_check = time.monotonic() + 1.0
            state = self._state()
            if state.get("Status") in ("running", "created", "restarting"):
                return None
            return self._exit_outcome(started, state)

        return wait_until_ready(self.base_url, started, timeout_s, exited, log.tail)

    def stop(self) -> None:
        """Remove the container and its network; idempotent, never raises."""
        if self.container is not None:
            container = self.container
            best_effort(lambda: remove_container(container))
            self.container = None
        if self.log is not None:
            self.log.close()
        if self.network is not None:
            network = self.network
            best_effort(lambda: remove_network(network))
            self.network = None
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def __enter__(self) -> DockerApp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DockerRuntime:
    """Candidates in locked-down containers from the runtime image (see module doc)."""

    name = "docker"

    def __init__(self, session: DockerSession, image: str, limits: AppLimits | None = None) -> None:
        self.session = session
        self.image = image
        self.limits = limits or AppLimits.from_env()
        try:
            self.image_id = str(session.client.images.get(image).id)
        except docker.errors.ImageNotFound as exc:
            raise InfrastructureError(
                f"runtime image {image} is missing: run `harness images build`"
            ) from exc

    def make_app(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        log_path: Path,
        jwt_secret: str | None,
    ) -> DockerApp:
        return DockerApp(
            files,
            database,
            log_path,
            jwt_secret,
            session=self.session,
            image=self.image,
            limits=self.limits,
        )

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "image": self.image,
            "image_id": self.image_id,
            "memory_mb": str(self.limits.memory_mb),
            "cpus": str(self.limits.cpus),
            "pids": str(self.limits.pids),
            "tmp_mb": str(self.limits.tmp_mb),
            "network": "internal bridge per candidate (database alias only)",
        }
