"""What a runtime is: a way to run a candidate app against a sample database.

The grading pipeline only sees this protocol, so the local runtime (a subprocess,
`local/runtime.py`) and the docker runtime (a locked-down container, `docker/app.py`) are
interchangeable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from harness.sandbox.databases import SampleDatabase
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
