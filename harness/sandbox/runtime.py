"""What a runtime is: a way to run a candidate app against a sample database.

The grading pipeline only sees this protocol, so the local runtime (a subprocess) and
the docker runtime (a locked-down container) are interchangeable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from harness.sandbox.databases import SampleDatabase
from harness.sandbox.local_app import LocalApp, local_sandbox
from harness.sandbox.namespace import sandbox_unavailable_reason
from harness.sandbox.readiness import BootOutcome


class CandidateApp(Protocol):
    """A candidate app bound to one sample database."""

    @property
    def base_url(self) -> str: ...

    @property
    def sandbox_hosts(self) -> tuple[str, ...]:
        """Non-loopback hosts in `base_url` that the harness created for this app alone
        (graders may probe them); empty for an app on loopback."""
        ...

    @property
    def sandboxed(self) -> bool:
        """Whether the app runs isolated from the harness (its files, processes, other
        candidates): rows of an unsandboxed app are flagged."""
        ...

    def start(self, timeout_s: float) -> BootOutcome: ...

    def stop(self) -> None: ...


class Runtime(Protocol):
    name: str

    def make_app(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        log_path: Path,
        jwt_secret: str | None,
    ) -> CandidateApp: ...

    def describe(self) -> dict[str, str]: ...


class LocalRuntime:
    """Candidates as limited subprocesses from the shared runtime venv, each in its own
    bubblewrap sandbox where this machine allows (else unsandboxed, said loudly once)."""

    name = "local"

    def __init__(self, python: Path) -> None:
        self.python = python
        self.sandboxed = local_sandbox(python)

    def make_app(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        log_path: Path,
        jwt_secret: str | None,
    ) -> CandidateApp:
        return LocalApp(files, database, self.python, log_path, jwt_secret, sandbox=self.sandboxed)

    def describe(self) -> dict[str, str]:
        sandbox = (
            "bubblewrap" if self.sandboxed else f"none: {sandbox_unavailable_reason(self.python)}"
        )
        return {"name": self.name, "python": str(self.python), "sandbox": sandbox}
