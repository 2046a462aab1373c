"""The local runtime: a candidate app under uvicorn as a limited subprocess.

Not a security boundary like the docker runtime, but it limits what it can: when the
harness is root the app runs as an unprivileged account, with memory, process, file
size and open-file limits, in its own session so every child it spawns is killed.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from harness.config import APP_ACCOUNT, APP_LOG_LIMIT_BYTES, APP_MEMORY_LIMIT_MB
from harness.sandbox.app_log import CappedLog
from harness.sandbox.databases import SampleDatabase
from harness.sandbox.processes import (
    child_setup,
    chown_tree,
    free_loopback_port,
    kill_process_group,
)
from harness.sandbox.readiness import BootOutcome, wait_until_ready
from harness.sandbox.runtime_venv import world_accessible

_PORT_CLASH = "address already in use"
_PORT_ATTEMPTS = 3


def _apply_limits(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))


class LocalApp:
    """One candidate app process bound to one sample database."""

    def __init__(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        python: Path,
        log_path: Path,
        jwt_secret: str | None = None,
        memory_mb: int = APP_MEMORY_LIMIT_MB,
    ) -> None:
        self.files = files
        self.database = database
        self.python = python
        self.log_path = log_path
        self.jwt_secret = jwt_secret
        self.memory_mb = memory_mb
        self.account = APP_ACCOUNT if world_accessible(python) else None
        self.port = 0
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
        return False

    def _prepare_workdir(self) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="harness-app-"))
        for relative, content in self.files.items():
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        (workdir / "tmp").mkdir()
        chown_tree(workdir, self.account)
        return workdir

    def _environment(self, workdir: Path) -> dict[str, str]:
        env = {
            "PATH": f"{self.python.parent}:/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",
            "DATABASE_URL": self.database.app_url,
        }
        if self.jwt_secret is not None:
            env["JWT_SECRET"] = self.jwt_secret
        return env

    def _spawn(self) -> None:
        assert self.workdir is not None
        self.port = free_loopback_port()
        command = [
            str(self.python),
            "-m",
            "uvicorn",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-server-header",
        ]
        memory_mb = self.memory_mb
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self._environment(self.workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=child_setup(self.account, lambda: _apply_limits(memory_mb)),
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
            self._stop_process()
        return BootOutcome(
            False,
            time.monotonic() - started,
            outcome.error,
            infra_error=f"port clash {_PORT_ATTEMPTS} times in a row",
        )

    def _wait_until_ready(self, started: float, timeout_s: float) -> BootOutcome:
        assert self.process is not None and self.log is not None
        process, log = self.process, self.log

        def exited() -> BootOutcome | None:
            code = process.poll()
            if code is None:
                return None
            log.close()
            return BootOutcome(
                False,
                time.monotonic() - started,
                f"app exited with code {code} before it was ready:\n" + log.tail(),
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
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
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
