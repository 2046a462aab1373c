"""The grading code and data must not change under a run: a candidate (or a CLI agent
running on the host) that edits a hidden test, a probe plan or a grader would change
its own grade and every later one. `SourceIntegrity` digests `tasks/` and the graders at
run start; `verify()` before each grade stops the run (a `HarnessError`) naming what
changed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import harness.graders as graders
from harness.core.errors import HarnessError
from harness.core.settings import TASKS_DIR
from harness.core.tasks import source_files

GRADERS_DIR = Path(graders.__file__).resolve().parent


def digest_files(roots: Sequence[Path]) -> dict[str, str]:
    """`root/relative path` -> sha256 of every source file under the roots."""
    digests: dict[str, str] = {}
    for root in roots:
        for path in source_files(root):
            key = f"{root.name}/{path.relative_to(root).as_posix()}"
            digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


class SourceIntegrity:
    """What the graders are made of when the run starts, and the check against it."""

    def __init__(self, roots: Sequence[Path] = (TASKS_DIR, GRADERS_DIR)) -> None:
        self.roots = tuple(roots)
        self.baseline = digest_files(self.roots)

    def changes(self) -> list[str]:
        now = digest_files(self.roots)
        changed = [
            f"changed {key}"
            for key in self.baseline
            if key in now and now[key] != self.baseline[key]
        ]
        removed = [f"removed {key}" for key in self.baseline if key not in now]
        added = [f"added {key}" for key in now if key not in self.baseline]
        return sorted(changed + removed + added)

    def verify(self) -> None:
        changes = self.changes()
        if changes:
            shown = "; ".join(changes[:10]) + (
                f" (+{len(changes) - 10} more)" if len(changes) > 10 else ""
            )
            raise HarnessError(
                "the tasks or graders changed during the run, so its grades cannot be trusted: "
                f"{shown}; the run is stopped (resume it once they are restored)"
            )
