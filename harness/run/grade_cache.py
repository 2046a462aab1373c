"""Content-addressed cache of grades: grading is a pure function of the extracted files,
the task's content, the graders' versions, the runtime and the database engine version,
so an unchanged re-run grades nothing. Keyed on content, never on a run id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from harness.core import settings
from harness.core.records import SampleResult
from harness.core.store import write_text_atomic

# Fields that describe the run a row belongs to, not the grade itself.
_RUN_FIELDS = {"run_id", "model", "prompt", "extraction", "sample"}


def grade_key(
    files: Mapping[str, str],
    task_hash: str,
    graders: Sequence[tuple[str, str]],
    runtime: Mapping[str, str],
    server_version: str,
    database: str,
    response_text: str | None = None,
) -> str:
    payload = {
        "response": None
        if response_text is None
        else hashlib.sha256(response_text.encode()).hexdigest(),
        "files": dict(sorted(files.items())),
        "task": task_hash,
        "graders": sorted(graders),
        "runtime": dict(sorted(runtime.items())),
        "server": server_version,
        "database": database,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_grade_cache_dir() -> Path:
    return settings.GRADE_CACHE.get()


class GradeCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_grade_cache_dir()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> SampleResult | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            # Stored without the run's fields; the runner sets the sample itself.
            return SampleResult.model_validate({**data, "sample": 0})
        except (OSError, ValueError, ValidationError):
            return None

    def put(self, key: str, result: SampleResult) -> None:
        """Store a grade; infrastructure failures are never cached."""
        if result.infra_error is not None:
            return
        write_text_atomic(self._path(key), result.model_dump_json(exclude=_RUN_FIELDS))
