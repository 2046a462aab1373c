"""Every run's rows as one pandas frame: one row per sample x database, with the
derived pass and "correct and secure" flags and the sample's usage from response.json.

Columns: `model`, `prompt`, `run_id`, `task`, `sample`, `database`, `infra` (bool),
`infra_error`, `boot_ok`, `boot_error`, `score:<grader>` for every grader seen plus
`score:overall` (NaN where a grader did not run), `passed` and `secure` (1.0, 0.0, or
NaN when undefined), `hidden_passed`, `hidden_total`, `failed_tests` (names, or None
when the hidden tests did not run), `findings` (`Finding`s), `grade_seconds`, and per
sample `input_tokens`, `output_tokens`, `cached_tokens`, `cost_usd`, `gen_seconds`, and
`round` (which answer of the sample, `--rounds`; 1 for every run before rounds).

`ResultSet.frame` holds each run's last round only (the default view: what the model
ended with, so every table, comparison and baseline reads one row per sample x
database as before); `ResultSet.all_rounds` holds every round, for the score by round.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.files import RESPONSE_FILE, RESULTS_FILE, ROUND_PREFIX, RUN_FILE, SAMPLES_DIR
from harness.core.records import CORRECTNESS_GRADER, SampleResult
from harness.core.run_record import ResponseRecord, RunRecord
from harness.core.store import RunStore

COVERAGE = "coverage"
FUNCTIONAL_GRADER = CORRECTNESS_GRADER
# Scores are rounded to 4 places when stored; 1.0 means every hidden test passed.
FULL_SCORE = 1.0 - 1e-9
SAMPLE_KEY = ["run_id", "task", "sample"]
USAGE_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "cost_usd", "gen_seconds")


@dataclass(frozen=True)
class ResultSet:
    """Rows of one or more runs, and where each run's artifacts are."""

    frame: pd.DataFrame
    graders: tuple[str, ...]
    run_dirs: dict[str, Path]
    root: Path | None = None
    # Every round's rows (the same columns); `frame` is the last round of each run.
    all_rounds: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return len(self.frame) == 0

    def select(self, mask: pd.Series[bool]) -> ResultSet:
        frame = self.frame[mask].reset_index(drop=True)
        graders = tuple(g for g in self.graders if frame[f"score:{g}"].notna().any())
        return ResultSet(frame, graders, self.run_dirs, self.root, self.all_rounds)

    def rounds_table(self) -> pd.DataFrame:
        """Score by round per model and prompt, for runs of more than one round: mean
        overall, pass rate and rows per round (infrastructure rows left out)."""
        frame = self.all_rounds
        if frame is None or frame.empty or frame["round"].max() <= 1:
            return pd.DataFrame(columns=["model", "prompt", "round", "overall", "pass", "rows"])
        multi = frame.groupby("run_id")["round"].transform("max") > 1
        scored = frame[multi & ~frame["infra"].astype(bool)]
        table = scored.groupby(["model", "prompt", "round"], sort=True).agg(
            overall=("score:overall", "mean"),
            passed=("passed", "mean"),
            rows=("task", "size"),
        )
        return table.reset_index().rename(columns={"passed": "pass"})


def find_run_dirs(results_dir: Path) -> list[Path]:
    """Run folders directly under `results_dir`: those with run.json and results.jsonl."""
    return sorted(
        path.parent
        for path in results_dir.glob(f"*/{RUN_FILE}")
        if (path.parent / RESULTS_FILE).exists()
    )


def load_results(results_dir: Path) -> ResultSet:
    """Every row of every run under `results_dir`."""
    return load_runs(find_run_dirs(results_dir), root=results_dir)


def load_runs(run_dirs: Iterable[Path], root: Path | None = None) -> ResultSet:
    """Rows of the given run folders, as stored (a resumed run's store compacts away
    the rows it grades again)."""
    records: list[dict[str, Any]] = []
    folders: dict[str, Path] = {}
    for folder in run_dirs:
        defaults = _run_defaults(folder)
        samples = os.path.join(folder, SAMPLES_DIR)
        usage: dict[tuple[str, int, int], dict[str, float]] = {}
        for result in RunStore(folder).results():
            run_id = result.run_id or folder.name
            folders.setdefault(run_id, folder)
            key = (result.task, result.sample, result.round)
            if key not in usage:
                # os.path, not pathlib: this runs once per sample, 5,000 times a page.
                where = os.path.join(samples, result.task, str(result.sample))
                if result.round > 1:
                    where = os.path.join(where, f"{ROUND_PREFIX}{result.round}")
                usage[key] = read_usage(os.path.join(where, RESPONSE_FILE))
            records.append(_record(result, run_id, defaults, usage[key]))
    graders = sorted({name for record in records for name in record["scores"]} - {"overall"})
    if any(record["coverage"] is not None for record in records):
        # Not a grader, but averaged and bootstrapped like one: the share of the
        # contract's operations the app implements.
        graders.append(COVERAGE)
    every = _frame(records, graders)
    last = every.groupby("run_id")["round"].transform("max") if len(every) else every["round"]
    frame = every[every["round"] == last].reset_index(drop=True)
    return ResultSet(frame, tuple(graders), folders, root, every)


def _run_defaults(folder: Path) -> dict[str, str]:
    """Model and prompt from run.json, for rows written before they carried them."""
    try:
        config = RunRecord.read(folder / RUN_FILE).config
    except (OSError, ValueError):
        return {"model": "", "prompt": ""}
    if config is None:
        return {"model": "", "prompt": ""}
    return {"model": config.model, "prompt": config.prompt}


def read_usage(response_json: str | Path) -> dict[str, float]:
    """Tokens, cost and generation time of one sample from its response.json; NaN for
    whatever is not recorded (a cost appears only where the model has a price)."""
    found = dict.fromkeys(USAGE_COLUMNS, math.nan)
    record = ResponseRecord.read(Path(response_json))
    if record is None:
        return found
    for name in ("input_tokens", "output_tokens", "cached_tokens"):
        if name in record.usage.model_fields_set:
            found[name] = float(getattr(record.usage, name))
    if record.cost_usd is not None:
        found["cost_usd"] = record.cost_usd
    if "seconds" in record.model_fields_set:
        found["gen_seconds"] = record.seconds
    return found


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _record(
    result: SampleResult, run_id: str, defaults: dict[str, str], usage: dict[str, float]
) -> dict[str, Any]:
    infra = result.infra_error is not None
    passed = math.nan
    secure = math.nan
    functional = result.scores.get(FUNCTIONAL_GRADER)
    if not infra and functional is not None:
        passed = 1.0 if result.boot.ok and functional >= FULL_SCORE else 0.0
        # Decided when the row was scored (harness/core/records.py's rule).
        flag = result.is_correct_and_secure()
        if flag is not None:
            secure = 1.0 if flag else 0.0
    hidden = result.hidden_tests
    total = hidden.get("total")
    failed = hidden.get("failed")
    return {
        "model": result.model or defaults["model"],
        "prompt": result.prompt or defaults["prompt"],
        "run_id": run_id,
        "task": result.task,
        "sample": result.sample,
        "database": result.database,
        "engine": database_label(result),
        "infra": infra,
        "infra_error": result.infra_error,
        "boot_ok": result.boot.ok,
        "boot_error": result.boot.error,
        "scores": {} if infra else dict(result.scores),
        "coverage": None if infra else result.coverage,
        "sandboxed": result.sandboxed,
        "passed": passed,
        "secure": secure,
        "hidden_passed": _number(hidden.get("passed")),
        "hidden_total": _number(total),
        "failed_tests": [str(name) for name in failed]
        if isinstance(failed, list) and isinstance(total, int) and total > 0
        else None,
        "findings": result.findings,
        "grade_seconds": _number(result.timings.get("total")),
        "round": result.round,
        **usage,
    }


def database_label(result: SampleResult) -> str:
    """The row's database engine as the leaderboard groups it: the engine family when
    known, so MySQL and MariaDB (which differ in timestamp rounding and collation
    defaults) are reported apart; the kind (`postgres`, `mysql`) otherwise. Pairing,
    artifacts and filters keep using the kind (`database`)."""
    engine = result.database_engine
    family = engine.split()[0] if engine else ""
    return (
        family
        if result.database == "mysql" and family in ("mysql", "mariadb")
        else (result.database)
    )


def _frame(records: list[dict[str, Any]], graders: list[str]) -> pd.DataFrame:
    for record in records:
        scores: dict[str, float] = record.pop("scores")
        coverage = record.pop("coverage")
        if coverage is not None:
            scores[COVERAGE] = coverage
        for name in ("overall", *graders):
            record[f"score:{name}"] = float(scores[name]) if name in scores else math.nan
    columns = [
        "model",
        "prompt",
        "run_id",
        "task",
        "sample",
        "database",
        "engine",
        "infra",
        "infra_error",
        "sandboxed",
        "boot_ok",
        "boot_error",
        *(f"score:{name}" for name in ("overall", *graders)),
        "passed",
        "secure",
        "hidden_passed",
        "hidden_total",
        "failed_tests",
        "findings",
        "grade_seconds",
        "round",
        *USAGE_COLUMNS,
    ]
    return pd.DataFrame.from_records(records, columns=columns)
