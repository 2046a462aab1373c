"""A run's configuration: what `harness eval` was asked for, and the one a stored run
was started with (to resume or regrade it)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.errors import HarnessError
from harness.core.files import RUN_FILE
from harness.core.settings import (
    DATABASE_KINDS,
    DEFAULT_DATABASES,
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    RESULTS_DIR,
)
from harness.core.store import RunStore
from harness.providers import GenerationParams


@dataclass(frozen=True)
class EvalConfig:
    model: str = DEFAULT_MODEL
    prompt: str = DEFAULT_PROMPT
    tasks: str | None = None
    samples: int = 1
    databases: tuple[str, ...] = DEFAULT_DATABASES
    runtime: str = "auto"
    params: GenerationParams = field(default_factory=GenerationParams)
    results_dir: Path = RESULTS_DIR
    run_id: str | None = None
    jobs: int = 0
    grade_cache: bool = True
    response_cache: bool = True  # --no-cache turns it off
    cache_dir: Path | None = None  # default <CACHE_DIR>/responses
    max_cost: float | None = None  # USD; --max-cost
    rounds: int = 1  # answers per sample, each graded (--rounds)
    executor: str = "threads"  # where grading runs: threads (here) or ray (a cluster)
    ray_address: str | None = None  # --ray-address


def default_jobs() -> int:
    """Workers: one per core (boot and the hidden tests each keep a core busy)."""
    return max(1, os.cpu_count() or 1)


def make_run_id(model: str, prompt: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() else "-" for ch in f"{model}-{prompt}").strip("-")[:48]
    return f"{stamp}-{slug}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:4]}"


# What a run.json's config must say for the run to be resumed or regraded.
RESUME_FIELDS = ("model", "prompt", "tasks", "samples", "databases", "runtime", "params")


def config_from_run(results_dir: Path, run_id: str) -> EvalConfig:
    """The configuration a stored run was started with, to resume it."""
    path = results_dir / run_id / RUN_FILE
    try:
        stored = RunStore(path.parent).read_run_record().config
        if stored is None:
            raise KeyError("config")
        if missing := stored.missing(RESUME_FIELDS):
            raise KeyError(", ".join(missing))
        if (
            stored.tasks is None
            or stored.samples is None
            or stored.databases is None
            or stored.runtime is None
        ):
            raise KeyError("tasks, samples, databases, runtime")
        return EvalConfig(
            model=stored.model,
            prompt=stored.prompt,
            tasks=",".join(stored.tasks),
            samples=stored.samples,
            databases=tuple(stored.databases),
            runtime=stored.requested_runtime or stored.runtime,
            params=GenerationParams.model_validate(stored.params),
            results_dir=results_dir,
            run_id=run_id,
            max_cost=stored.max_cost_usd,
            response_cache=stored.response_cache,
            rounds=stored.rounds,
        )
    except FileNotFoundError as exc:
        raise HarnessError(f"cannot resume {run_id!r}: no {path}") from exc
    except (KeyError, ValueError, TypeError, ValidationError) as exc:
        raise HarnessError(f"cannot resume {run_id!r}: {path} is malformed ({exc})") from exc


def replace_config(config: EvalConfig, **changes: Any) -> EvalConfig:
    return dataclass_replace(config, **changes)


def parse_databases(value: str | Sequence[str]) -> tuple[str, ...]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(p.strip() for p in parts if p.strip())
    for kind in kinds:
        if kind not in DATABASE_KINDS:
            raise HarnessError(f"unknown database {kind!r} (known: {', '.join(DATABASE_KINDS)})")
    if not kinds:
        raise HarnessError("no database selected")
    return kinds
