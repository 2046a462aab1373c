"""Blessed baselines: `results/baselines/<name>.json` names the run every nightly
evaluation called `<name>` is compared with, and `results/baselines/<name>/<run_id>/`
holds a snapshot of that run (run.json, results.jsonl and the stored responses), so
the baseline survives the cleanup of its run folder and can be re-graded (flake check)
without the original.

Blessing is crash-safe: the snapshot is complete before the record that points at it
is switched (an atomic rename), and older snapshots are removed only after.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.core.errors import HarnessError, InputFileError, describe_validation_error
from harness.core.files import (
    PROMPT_FILE,
    RESPONSE_FILE,
    RESPONSE_TEXT_FILE,
    RESULTS_FILE,
    RUN_FILE,
    WORKSPACE_DIR,
    sample_folder,
)
from harness.core.records import SampleResult
from harness.core.run_record import RunRecord
from harness.core.store import RunStore, write_json_atomic, write_text_atomic
from harness.nightly.config import NAME_PATTERN
from harness.report.compare import Side
from harness.report.frame import load_runs
from harness.run.run_info import git_commit

BASELINE_SCHEMA = 1
# What a snapshot keeps of each sample: enough to re-grade it, not its grading artifacts.
SAMPLE_FILES = (PROMPT_FILE, RESPONSE_TEXT_FILE, RESPONSE_FILE)
SAMPLE_FOLDERS = (WORKSPACE_DIR,)


class BaselineRecord(BaseModel):
    """`results/baselines/<name>.json`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = BASELINE_SCHEMA
    name: str
    run_id: str
    source: str  # the run folder blessed (it may since have been cleaned up)
    snapshot: str  # relative to the baselines folder
    blessed_at: str
    model: str
    requested_model: str
    prompt: str
    tasks: list[str]
    samples: int
    databases: list[str]
    rows: int
    infra_errors: int
    passed: int
    graders: dict[str, str] = {}
    git_commit: str | None = None


class BaselineStore:
    """The baselines folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def record_path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def snapshot_path(self, record: BaselineRecord) -> Path:
        return self.root / record.snapshot

    def get(self, name: str) -> BaselineRecord | None:
        path = self.record_path(check_name(name))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputFileError(path, f"cannot read: {exc.strerror}") from exc
        try:
            return BaselineRecord.model_validate_json(text)
        except ValidationError as exc:
            raise describe_validation_error(path, exc) from exc

    def require(self, name: str) -> BaselineRecord:
        record = self.get(name)
        if record is None:
            known = ", ".join(r.name for r in self.all()) or "none yet"
            raise HarnessError(
                f"no baseline {name!r} in {self.root} (known: {known}); bless a run with "
                f"`harness baseline set results/<run_id> --name {name}`"
            )
        return record

    def all(self) -> list[BaselineRecord]:
        records = []
        for path in sorted(self.root.glob("*.json")):
            record = self.get(path.stem)
            if record is not None:
                records.append(record)
        return records

    def side(self, record: BaselineRecord) -> Side:
        """The baseline's rows, from its snapshot, as one side of a comparison."""
        snapshot = self.snapshot_path(record)
        if not (snapshot / RESULTS_FILE).is_file():
            raise HarnessError(
                f"baseline {record.name!r}: its snapshot {snapshot} is missing "
                f"(bless a run again with `harness baseline set`)"
            )
        results = load_runs([snapshot], root=self.root)
        description = (
            f"baseline {record.name}: run {record.run_id}, blessed {record.blessed_at[:16]}, "
            f"model {record.model}, prompt {record.prompt}, {len(results.frame)} rows"
        )
        return Side(f"baseline {record.run_id}", results, description)

    def bless(self, run_dir: Path, name: str) -> BaselineRecord:
        """Snapshot a finished run and make it the baseline called `name`."""
        check_name(name)
        info = _finished_run_info(run_dir)
        run_id = info.run_id or run_dir.name
        assert info.config is not None  # checked by _finished_run_info
        config = info.config
        rows = list(RunStore(run_dir).results())
        if not rows:
            raise HarnessError(f"cannot bless {run_dir}: it has no result rows")
        snapshot = Path(name) / run_id
        target = self.root / snapshot
        scratch = target.with_name(f".{run_id}.tmp")
        if scratch.exists():
            shutil.rmtree(scratch)
        _copy_run(run_dir, scratch, info, rows)
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
        frame = load_runs([target]).frame
        record = BaselineRecord(
            name=name,
            run_id=run_id,
            source=str(run_dir.resolve()),
            snapshot=snapshot.as_posix(),
            blessed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model=config.model,
            requested_model=config.model_as_typed,
            prompt=config.prompt,
            tasks=config.tasks if config.tasks is not None else sorted({r.task for r in rows}),
            samples=config.samples
            if config.samples is not None
            else 1 + max(r.sample for r in rows),
            databases=config.databases
            if config.databases is not None
            else sorted({r.database for r in rows}),
            rows=len(rows),
            infra_errors=sum(r.infra_error is not None for r in rows),
            passed=int((frame["passed"] == 1.0).sum()),
            graders=dict(info.graders),
            git_commit=git_commit(),
        )
        write_json_atomic(self.record_path(name), record.model_dump(mode="json"))
        for old in (self.root / name).iterdir():
            if old.name != run_id and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        return record


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise HarnessError(
            f"baseline name {name!r}: use letters, digits, '.', '_', '@' and '-' "
            "(at most 100, starting with a letter or digit)"
        )
    return name


def _finished_run_info(run_dir: Path) -> RunRecord:
    """run.json of a run that finished: a running, crashed or capped run is no baseline."""
    try:
        info = RunStore(run_dir).read_run_record()
    except FileNotFoundError as exc:
        raise HarnessError(f"cannot bless {run_dir}: no {RUN_FILE} (not a run folder)") from exc
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot bless {run_dir}: unreadable {RUN_FILE} ({exc})") from exc
    if info.config is None:
        raise HarnessError(f"cannot bless {run_dir}: {RUN_FILE} has no config")
    status = info.status
    if status != "complete":
        raise HarnessError(
            f"cannot bless {run_dir}: the run is {status!r}, not complete "
            f"(finish it with `harness eval --resume {run_dir.name}`)"
        )
    return info


def _copy_run(run_dir: Path, scratch: Path, info: RunRecord, rows: list[SampleResult]) -> None:
    """run.json, the whole rows, and each sample's stored response (not its artifacts)."""
    write_json_atomic(scratch / RUN_FILE, info.to_json())
    write_text_atomic(scratch / RESULTS_FILE, "".join(row.model_dump_json() + "\n" for row in rows))
    for task, sample in sorted({(row.task, row.sample) for row in rows}):
        source = sample_folder(run_dir, task, sample)
        target = sample_folder(scratch, task, sample)
        for name in SAMPLE_FILES:
            if (source / name).is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, target / name)
        for name in SAMPLE_FOLDERS:
            if (source / name).is_dir():
                shutil.copytree(source / name, target / name)


def resolve_run_dir(spec: str, results_dir: Path) -> Path:
    """A run folder, or a run id under the results folder."""
    for folder in (Path(spec), results_dir / spec):
        if (folder / RUN_FILE).is_file():
            return folder
    raise HarnessError(
        f"{spec!r} is not a run: no {RUN_FILE} in {Path(spec)} or in {results_dir / spec}"
    )


def describe(record: BaselineRecord, store: BaselineStore) -> str:
    """`harness baseline show`: one block per baseline."""
    source = Path(record.source)
    kept = "still there" if (source / RESULTS_FILE).is_file() else "cleaned up; the snapshot stays"
    scored = record.rows - record.infra_errors
    rate = f"{record.passed / scored:.0%}" if scored else "–"
    return "\n".join(
        [
            f"{record.name}: run {record.run_id}, blessed {record.blessed_at}",
            f"  model {record.model} (as typed: {record.requested_model}), prompt {record.prompt}",
            f"  tasks {', '.join(record.tasks)}; {record.samples} sample(s); "
            f"databases {', '.join(record.databases)}",
            f"  {record.rows} rows, {record.infra_errors} infra errors, pass rate {rate}",
            f"  run folder {record.source} ({kept})",
            f"  snapshot {store.snapshot_path(record)}",
        ]
    )
