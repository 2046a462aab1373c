"""The aggregated table as CSV (one row per model and prompt version) and as JSON (the
same rows, the task x database cells, and how the numbers were made)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.store import write_text_atomic
from harness.report.aggregate import Leaderboard


def _clean(value: object) -> object:
    """JSON has no NaN: a missing number is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(key): _clean(value) for key, value in record.items()}
        for record in frame.to_dict("records")
    ]


def export_csv(board: Leaderboard, path: Path) -> Path:
    """One row per (model, prompt): every metric with `_low`/`_high`, counts, usage.
    Missing values are empty cells."""
    write_text_atomic(path, board.table.to_csv(index=False, float_format="%.6g", na_rep=""))
    return path


def leaderboard_json(board: Leaderboard) -> dict[str, Any]:
    return {
        "method": {
            "interval": f"percentile bootstrap, {board.level:.0%}",
            "resamples": board.resamples,
            "seed": board.seed,
            "pass_at_k": "Chen et al. 2021 unbiased estimator per task x database, averaged",
            "ks": list(board.ks),
        },
        "graders": list(board.graders),
        "tasks": list(board.tasks),
        "databases": list(board.databases),
        "rows": board.rows,
        "infra_errors": board.infra_errors,
        "table": _rows(board.table),
        "cells": _rows(board.cells),
    }


def export_json(board: Leaderboard, path: Path) -> Path:
    write_text_atomic(path, json.dumps(leaderboard_json(board), indent=2) + "\n")
    return path
