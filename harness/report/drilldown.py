"""The per-sample drill-down: what a reader needs to see why a sample failed, read from
the run's artifacts and cut to a size budget so the page stays small.

Rows are taken failing first, then infrastructure errors, then passing, round-robin
over (model, prompt, task) so one bad model cannot take the whole budget. Nothing is
cut silently: every clipped text says how much is missing and where the whole of it
is, and the page says how many rows were left out.

All of this is untrusted model output. It leaves here as plain JSON strings; the page
puts them into the DOM as text, never as HTML.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from harness.core.files import (
    AGENT_TRANSCRIPT_FILE,
    APP_LOG,
    EXTRACTION_FILE,
    FILES_DIR,
    HIDDEN_TESTS,
    RESPONSE_TEXT_FILE,
    ROBUSTNESS_TESTS,
    round_folder,
    sample_folder,
    test_report,
)
from harness.core.records import Finding
from harness.report.frame import FUNCTIONAL_GRADER, ResultSet
from harness.report.session import agent_session

STATUS_ORDER = {"fail": 0, "infra": 1, "pass": 2}


@dataclass(frozen=True)
class DrilldownLimits:
    """Caps on what one page carries; characters, counted as they serialise."""

    budget: int = 1_500_000
    max_rows: int = 800
    file_chars: int = 12_000
    sample_file_chars: int = 40_000
    max_files: int = 30
    log_chars: int = 4_000
    evidence_chars: int = 2_000
    message_chars: int = 2_000
    max_findings: int = 40
    max_tests: int = 40
    response_chars: int = 4_000
    transcript_chars: int = 20_000


@dataclass
class Drilldown:
    rows: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    total: int = 0
    stopped_by: str | None = None
    size: int = 0

    @property
    def shown(self) -> int:
        return len(self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "samples": self.samples,
            "total": self.total,
            "shown": self.shown,
            "stopped_by": self.stopped_by,
        }


def clip(text: str, limit: int, where: str, keep: str = "head") -> tuple[str, str | None]:
    """At most `limit` characters of `text`, and a note saying what was left out."""
    if len(text) <= limit:
        return text, None
    kept = text[:limit] if keep == "head" else text[-limit:]
    part = "first" if keep == "head" else "last"
    return kept, f"showing the {part} {limit:,} of {len(text):,} characters; all of it in {where}"


def row_status(infra: bool, passed: float, overall: float) -> str:
    if infra:
        return "infra"
    if not math.isnan(passed):
        return "pass" if passed == 1.0 else "fail"
    return "pass" if overall >= 1.0 else "fail"


def order_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Failing first, then infrastructure errors, then passing; within each,
    round-robin over (model, prompt, task)."""
    ordered = frame.assign(
        status=[
            row_status(bool(i), float(p), float(o))
            for i, p, o in zip(frame["infra"], frame["passed"], frame["score:overall"], strict=True)
        ]
    )
    ordered = ordered.assign(status_rank=ordered["status"].map(STATUS_ORDER))
    ordered = ordered.sort_values(["model", "prompt", "task", "run_id", "sample", "database"])
    ordered = ordered.assign(
        turn=ordered.groupby(["model", "prompt", "task", "status"]).cumcount().to_numpy()
    )
    return ordered.sort_values(["status_rank", "turn", "model", "prompt", "task"], kind="stable")


def build_drilldown(results: ResultSet, limits: DrilldownLimits | None = None) -> Drilldown:
    limits = limits or DrilldownLimits()
    drill = Drilldown(total=len(results.frame))
    if results.empty:
        return drill
    reader = _ArtifactReader(results, limits)
    records = cast(list[dict[str, Any]], order_rows(results.frame).to_dict("records"))
    for record in records:
        if drill.shown >= limits.max_rows:
            drill.stopped_by = f"the cap of {limits.max_rows:,} rows"
            break
        row = reader.row(record, drill.shown)
        sample_ref = row["sample_ref"]
        sample = None if sample_ref in drill.samples else reader.sample(record)
        cost = _size(row) + (0 if sample is None else _size(sample) + len(sample_ref) + 4)
        if drill.size + cost > limits.budget:
            drill.stopped_by = f"the page's size budget ({limits.budget:,} characters)"
            break
        drill.rows.append(row)
        if sample is not None:
            drill.samples[sample_ref] = sample
        drill.size += cost
    return drill


def _size(data: object) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":"))) + 1


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating) and not math.isnan(value):
        return float(value)
    return None


class _ArtifactReader:
    def __init__(self, results: ResultSet, limits: DrilldownLimits) -> None:
        self.results = results
        self.limits = limits

    def _folder(self, record: dict[str, Any]) -> Path | None:
        run_dir = self.results.run_dirs.get(str(record["run_id"]))
        if run_dir is None:
            return None
        sample = sample_folder(run_dir, str(record["task"]), int(record["sample"]))
        return round_folder(sample, int(record.get("round", 1)))

    def _shown_path(self, path: Path) -> str:
        root = self.results.root
        if root is not None and path.is_relative_to(root):
            return str(path.relative_to(root))
        return str(path)

    def row(self, record: dict[str, Any], index: int) -> dict[str, Any]:
        limits = self.limits
        folder = self._folder(record)
        db_dir = None if folder is None else folder / str(record["database"])
        where = self._shown_path(db_dir) if db_dir is not None else "the run folder"
        tests, tests_note, test_names = self._failing_tests(record, db_dir, where)
        findings: list[dict[str, Any]] = []
        for finding in cast(list[Finding], record["findings"]):
            if finding.grader == FUNCTIONAL_GRADER and finding.check in test_names:
                continue  # the same failure is listed with its assertion under tests
            evidence, note = clip(finding.evidence, limits.evidence_chars, where)
            findings.append(
                {
                    "grader": finding.grader,
                    "check": finding.check,
                    "severity": finding.severity,
                    "message": clip(finding.message, limits.message_chars, where)[0],
                    "evidence": evidence,
                    "note": note,
                }
            )
        findings_note = None
        if len(findings) > limits.max_findings:
            findings_note = f"{len(findings) - limits.max_findings} more findings in {where}"
            findings = findings[: limits.max_findings]
        log, log_note = self._log_tail(db_dir)
        scores = {
            key.removeprefix("score:"): _number(value)
            for key, value in record.items()
            if key.startswith("score:") and _number(value) is not None
        }
        return {
            "id": index,
            "model": str(record["model"]),
            "prompt": str(record["prompt"]),
            "run": str(record["run_id"]),
            "task": str(record["task"]),
            "sample": int(record["sample"]),
            "db": str(record.get("engine") or record["database"]),
            "status": str(record["status"]),
            "overall": scores.get("overall"),
            "scores": scores,
            "secure": _number(record["secure"]),
            "infra_error": _text(record["infra_error"]),
            "boot_error": _text(record["boot_error"]),
            "tests": {
                "passed": _number(record["hidden_passed"]),
                "total": _number(record["hidden_total"]),
                "failing": tests,
                "note": tests_note,
            },
            "findings": findings,
            "findings_note": findings_note,
            "log": log,
            "log_note": log_note,
            "path": where,
            "sample_ref": f"{record['run_id']}/{record['task']}/{record['sample']}"
            + (f"/round-{record['round']}" if int(record.get("round", 1)) > 1 else ""),
        }

    def _failing_tests(
        self, record: dict[str, Any], db_dir: Path | None, where: str
    ) -> tuple[list[dict[str, str]], str | None, set[str]]:
        """Failing hidden tests with their assertion, from hidden-tests.json and
        robustness-tests.json; the names alone from the row when the files are gone."""
        entries: list[dict[str, str]] = []
        data = _test_reports(db_dir)
        if data is not None:
            for test in data:
                if isinstance(test, dict) and test.get("outcome") not in ("passed", "skipped"):
                    message = str(test.get("message", ""))
                    entries.append(
                        {
                            "name": str(test.get("name", test.get("nodeid", "?"))),
                            "outcome": str(test.get("outcome", "?")),
                            "message": clip(message, self.limits.message_chars, where)[0],
                        }
                    )
        elif isinstance(record["failed_tests"], list):
            entries = [
                {"name": name, "outcome": "failed", "message": ""}
                for name in record["failed_tests"]
            ]
        names = {entry["name"] for entry in entries}
        note = None
        if len(entries) > self.limits.max_tests:
            note = f"{len(entries) - self.limits.max_tests} more failing tests in {where}"
            entries = entries[: self.limits.max_tests]
        return entries, note, names

    def _log_tail(self, db_dir: Path | None) -> tuple[str, str | None]:
        if db_dir is None:
            return "", None
        path = db_dir / APP_LOG
        limit = self.limits.log_chars
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - limit))
                tail = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return "", None
        if size <= limit:
            return tail, None
        return tail, f"the last {limit:,} of {size:,} bytes; all of it in {self._shown_path(path)}"

    def sample(self, record: dict[str, Any]) -> dict[str, Any]:
        """The generated files of one sample (shared by its databases' rows)."""
        limits = self.limits
        folder = self._folder(record)
        sample: dict[str, Any] = {"files": [], "files_note": None, "extraction": None}
        if folder is None:
            return sample
        files_dir = folder / FILES_DIR
        paths = (
            sorted(p for p in files_dir.rglob("*") if p.is_file() and not p.is_symlink())
            if files_dir.is_dir()
            else []
        )
        budget = limits.sample_file_chars
        for count, path in enumerate(paths):
            name = str(path.relative_to(files_dir))
            if count >= limits.max_files or budget <= 0:
                where = self._shown_path(files_dir)
                sample["files_note"] = f"{len(paths) - count} more files not shown; all in {where}"
                break
            limit = min(limits.file_chars, budget)
            size = path.stat().st_size
            with path.open("rb") as handle:  # never more than is shown (a file may be huge)
                data = handle.read(limit * 4 + 4)
            if b"\0" in data:
                sample["files"].append(
                    {"name": name, "text": "", "note": f"binary, {size:,} bytes, not shown"}
                )
                continue
            decoded = data.decode("utf-8", errors="replace")
            text, note = decoded[:limit], None
            if len(decoded) > limit or size > len(data):
                note = (
                    f"showing the first {len(text):,} characters of {size:,} bytes; "
                    f"all of it in {self._shown_path(path)}"
                )
            budget -= len(text)
            sample["files"].append({"name": name, "text": text, "note": note})
        try:
            extraction = json.loads((folder / EXTRACTION_FILE).read_text(encoding="utf-8"))
            if isinstance(extraction, dict):
                sample["extraction"] = {
                    "shape": str(extraction.get("shape", "")),
                    "truncated": bool(extraction.get("truncated", False)),
                    "problems": [str(p) for p in extraction.get("problems", [])][:20],
                }
        except (OSError, ValueError):
            pass
        session = agent_session(
            folder, limits.transcript_chars, self._shown_path(folder / AGENT_TRANSCRIPT_FILE)
        )
        if session is not None:
            sample["session"] = session
        if not paths:
            # No code came out: the raw answer is what explains the failure.
            try:
                response = (folder / RESPONSE_TEXT_FILE).read_text(
                    encoding="utf-8", errors="replace"
                )
            except OSError:
                response = ""
            text, note = clip(
                response, limits.response_chars, self._shown_path(folder / RESPONSE_TEXT_FILE)
            )
            sample["response"], sample["response_note"] = text, note
        return sample


TEST_REPORTS = (test_report(HIDDEN_TESTS), test_report(ROBUSTNESS_TESTS))


def _test_reports(db_dir: Path | None) -> list[Any] | None:
    """The functional and robustness tests' reports of one row, together (None when
    neither is readable)."""
    if db_dir is None:
        return None
    found: list[Any] | None = None
    for name in TEST_REPORTS:
        try:
            data = json.loads((db_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, list):
            found = (found or []) + data
    return found
