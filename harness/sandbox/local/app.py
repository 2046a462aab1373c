"""The local runtime: a candidate app under uvicorn as a limited subprocess.

Where bubblewrap can run (`harness.sandbox.local.namespace`), the app runs in its own
namespaces as its own uid (`harness.sandbox.local.confinement`): it sees only its files, the
runtime venv and the system, reaches only its database, and can neither see nor touch
the harness or other candidates. Elsewhere it runs unsandboxed, as today: when the
harness is root as an unprivileged account, with the same limits, in its own session so
every child it spawns is killed; `sandboxed` is then False and the run says so.
Either way: memory, process, file size and open-file limits.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from harness.core.settings import APP_ACCOUNT, APP_LOG_LIMIT_BYTES, APP_MEMORY_LIMIT_MB
from harness.sandbox.app_log import CappedLog
from harness.sandbox.databases import SampleDatabase
from harness.sandbox.local.confinement import Confinement
from harness.sandbox.local.namespace import (
    APP_DIR,
    sandbox_unavailable_reason,
    warn_unsandboxed_once,
)
from harness.sandbox.local.processes import (
    child_setup,
    chown_tree,
    free_loopback_port,
    kill_process_group,
)
from harness.sandbox.local.runtime_venv import world_accessible
from harness.sandbox.readiness import BootOutcome, wait_until_ready

_PORT_CLASH = "address already in use"
_PORT_ATTEMPTS = 3


def _apply_limits(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))


def write_files(workdir: Path, files: dict[str, str]) -> None:
    """The answer's files, as given (a `tmp/` folder of its own included)."""
    for relative, content in files.items():
        target = workdir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def local_sandbox(python: Path) -> bool:
    """Whether apps from `python` run sandboxed here; says loudly (once) when not."""
    reason = sandbox_unavailable_reason(python)
    if reason is not None:
        warn_unsandboxed_once(reason)
    return reason is None


class LocalApp:
    """One candidate app process bound to one sample database.

    `sandbox`: None decides by what this machine can do; False forces the unsandboxed
    runtime (True where bubblewrap cannot run fails the boot as an infra error).
    """

    def __init__(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        python: Path,
        log_path: Path,
        jwt_secret: str | None = None,
        memory_mb: int = APP_MEMORY_LIMIT_MB,
        sandbox: bool | None = None,
    ) -> None:
        self.files = files
        self.database = database
        self.python = python
        self.log_path = log_path
        self.jwt_secret = jwt_secret
        self.memory_mb = memory_mb
        self._sandboxed = local_sandbox(python) if sandbox is None else sandbox
        self.confinement = Confinement(python, database) if self._sandboxed else None
        self.account = APP_ACCOUNT if not self._sandboxed and world_accessible(python) else None
        self.port = 0
        self.base: Path | None = None
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log: CappedLog | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_hosts(self) -> tuple[str, ...]:
        return ()

    @property
    def sandboxed(self) -> bool:
        return self._sandboxed

    @property
    def uid(self) -> int | None:
        """The host uid the sandboxed app runs as (None: unsandboxed, or not root)."""
        return self.confinement.uid if self.confinement is not None else None

    def _prepare_workdir(self) -> Path:
        if self.confinement is not None:
            return self.confinement.prepare(lambda workdir: write_files(workdir, self.files))
        self.base = Path(tempfile.mkdtemp(prefix="harness-app-"))
        self.base.chmod(0o711)
        workdir = self.base / "app"
        workdir.mkdir()
        write_files(workdir, self.files)
        (self.base / "tmp").mkdir()
        chown_tree(self.base / "tmp", self.account)
        chown_tree(workdir, self.account)
        return workdir

    def _environment(self) -> dict[str, str]:
        assert self.workdir is not None
        sandboxed = self.confinement is not None
        env = {
            "PATH": f"{self.python.parent}:/usr/bin:/bin",
            "HOME": APP_DIR if sandboxed else str(self.workdir),
            "TMPDIR": "/tmp" if sandboxed else str(self.workdir.parent / "tmp"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",
            "DATABASE_URL": (
                self.confinement.database_url if self.confinement else self.database.app_url
            ),
        }
        if self.jwt_secret is not None:
            env["JWT_SECRET"] = self.jwt_secret
        return env

    def _uvicorn(self, port: int) -> list[str]:
        return [
            str(self.python),
            "-m",
            "uvicorn",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-server-header",
        ]

    def _spawn(self) -> None:
        assert self.workdir is not None
        memory_mb = self.memory_mb

        def limits() -> None:
            _apply_limits(memory_mb)

        if self.confinement is not None:
            command = self._uvicorn(self.confinement.app_port)
            self.process = self.confinement.spawn(self._environment(), command, limits)
            self.port = self.confinement.port
        else:
            self.port = free_loopback_port()
            self.process = subprocess.Popen(
                self._uvicorn(self.port),
                cwd=self.workdir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=child_setup(self.account, limits),
            )
        assert self.process.stdout is not None
        self.log = CappedLog(self.process.stdout, self.log_path, APP_LOG_LIMIT_BYTES)

    def start(self, timeout_s: float) -> BootOutcome:
        """Start and wait for readiness; retries only a port clash (the harness's fault)."""
        self.workdir = self._prepare_workdir()
        started = time.monotonic()
        outcome = BootOutcome(ok=False, seconds=0.0, error="not started")
        for _ in range(_PORT_ATTEMPTS):
            self._spawn()
            outcome = self._wait_until_ready(started, timeout_s)
            if outcome.ok or _PORT_CLASH not in (outcome.error or "").lower():
                return outcome
            if self.confinement is not None:  # its own network: a clash is the app's doing
                return outcome
            self._stop_process()
        return BootOutcome(
            False,
            time.monotonic() - started,
            outcome.error,
            infra_error=f"port clash {_PORT_ATTEMPTS} times in a row",
        )

    def _wait_until_ready(self, started: float, timeout_s: float) -> BootOutcome:
        assert self.process is not None and self.log is not None
        process, log, confinement = self.process, self.log, self.confinement

        def exited() -> BootOutcome | None:
            relay_failure = confinement.relay_failure() if confinement is not None else None
            code = process.poll()
            if code is None and relay_failure is None:
                return None
            if code is not None:
                log.close()
            elapsed = time.monotonic() - started
            if relay_failure is not None:
                return BootOutcome(False, elapsed, relay_failure, infra_error=relay_failure)
            if confinement is not None and not confinement.sandbox_started():
                error = f"the sandbox did not start (exit {code}):\n" + log.tail()
                return BootOutcome(False, elapsed, error, infra_error=error)
            return BootOutcome(
                False, elapsed, f"app exited with code {code} before it was ready:\n" + log.tail()
            )

        return wait_until_ready(self.base_url, started, timeout_s, exited, log.tail)

    def _stop_process(self) -> None:
        if self.process is not None:
            kill_process_group(self.process)
            self.process = None
        if self.log is not None:
            self.log.close()

    def stop(self) -> None:
        self._stop_process()
        if self.confinement is not None:
            self.confinement.close()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        self.workdir = None

    def __enter__(self) -> LocalApp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
