"""The results folder: `results/<run_id>/` with run.json, results.jsonl and per-sample
artifacts. Writes are atomic (write, then rename) and rows are appended under a lock,
so a crash never leaves a half-written file."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.failpoints import failpoint
from harness.core.files import RESULTS_FILE, RUN_FILE, round_folder, sample_folder
from harness.core.records import SampleResult
from harness.core.run_record import RunRecord


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


class RunStore:
    """One run's folder on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def results_path(self) -> Path:
        return self.root / RESULTS_FILE

    def sample_dir(self, task_id: str, sample: int, round_number: int = 1) -> Path:
        """A sample's folder (round 1), or its `round-<k>/` folder for a later round."""
        path = round_folder(sample_folder(self.root, task_id, sample), round_number)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def database_dir(self, task_id: str, sample: int, database: str, round_number: int = 1) -> Path:
        path = self.sample_dir(task_id, sample, round_number) / database
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_run_info(self, info: dict[str, Any]) -> None:
        write_json_atomic(self.root / RUN_FILE, info)

    def write_run_record(self, record: RunRecord) -> None:
        self.write_run_info(record.to_json())

    def read_run_record(self) -> RunRecord:
        """run.json, typed: OSError when missing, ValueError when malformed."""
        return RunRecord.read(self.root / RUN_FILE)

    def write_files(self, folder: Path, files: dict[str, str]) -> None:
        for relative, content in files.items():
            write_text_atomic(folder / relative, content)

    def append_result(self, result: SampleResult) -> None:
        """Append one row; the lock and fsync keep concurrent writers' rows whole.

        A crash mid-write leaves at most one torn last line, which readers skip and
        `compact` removes.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        line = (result.model_dump_json() + "\n").encode()
        with self.results_path.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            half = len(line) // 2
            handle.write(line[:half])
            handle.flush()
            failpoint("mid-append")
            handle.write(line[half:])
            handle.flush()
            os.fsync(handle.fileno())

    def results(self) -> Iterator[SampleResult]:
        """Every whole row; a torn line left by a crash is skipped."""
        if not self.results_path.exists():
            return
        with self.results_path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    yield SampleResult.model_validate_json(line)
                except ValidationError:
                    continue

    def compact(self, keep: Callable[[SampleResult], bool]) -> list[SampleResult]:
        """Rewrite results.jsonl atomically with the whole rows `keep` accepts."""
        rows = [row for row in self.results() if keep(row)]
        write_text_atomic(self.results_path, "".join(row.model_dump_json() + "\n" for row in rows))
        return rows
