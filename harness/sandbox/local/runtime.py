"""The local runtime: candidates as limited subprocesses of this machine."""

from __future__ import annotations

from pathlib import Path

from harness.sandbox.databases import SampleDatabase
from harness.sandbox.local.app import LocalApp, local_sandbox
from harness.sandbox.local.namespace import sandbox_unavailable_reason
from harness.sandbox.runtime import CandidateApp


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
