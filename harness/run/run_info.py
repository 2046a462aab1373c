"""What a run's `run.json` says: its configuration (checked on resume), the provider,
agent, tasks, graders, servers and runtime it used, its counters and its status."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from harness.core.errors import HarnessError
from harness.core.files import RUN_FILE
from harness.core.prompts import allowed_packages
from harness.core.run_record import (
    AgentRecord,
    EnvironmentRecord,
    ProviderRecord,
    RunConfigRecord,
    RunRecord,
    TaskRecord,
)
from harness.core.settings import PROJECT_ROOT
from harness.grading.pipeline import DEFAULT_GRADERS, grader_versions
from harness.providers.cache import CachedProvider
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import ServerPool

if TYPE_CHECKING:
    from harness.run.engine import EvalRun


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None


def config_record(run: EvalRun) -> RunConfigRecord:
    return RunConfigRecord(
        model=run.config.model,
        prompt=run.agent.ref,
        tasks=[t.id for t in run.tasks],
        samples=run.config.samples,
        databases=list(run.config.databases),
        runtime=run.runtime_name,
        requested_runtime=run.config.runtime,
        requested_model=run.requested_model,
        params=run.config.params.model_dump(),
        max_cost_usd=run.config.max_cost,
        response_cache=run.config.response_cache,
        rounds=run.config.rounds,
    )


# What a resumed run must have been started with.
SAME_ON_RESUME = ("model", "prompt", "tasks", "samples", "databases", "params", "rounds")
# Fields older runs did not record, read as their default (a run before --rounds had 1).
_DEFAULTED_ON_RESUME = frozenset({"rounds"})


def check_resumable(run: EvalRun) -> None:
    """Resuming must not mix two configurations in one run folder."""
    try:
        record = run.store.read_run_record()
    except ValueError as exc:
        raise HarnessError(f"cannot resume {run.run_id}: {RUN_FILE} is malformed ({exc})") from exc
    stored = record.config or RunConfigRecord()
    mine = config_record(run)
    for key in SAME_ON_RESUME:
        recorded = key in stored.model_fields_set or key in _DEFAULTED_ON_RESUME
        theirs = getattr(stored, key) if recorded else None
        if theirs != getattr(mine, key):
            raise HarnessError(
                f"run {run.run_id} was started with {key}={theirs!r}, not "
                f"{getattr(mine, key)!r}: resume it with `harness eval --resume {run.run_id}`"
            )
    if record.started_at is not None:
        run.started_at = record.started_at


def run_info(run: EvalRun, pool: ServerPool, runtime: Runtime, status: str) -> RunRecord:
    agent_path = (
        run.agent.path.relative_to(PROJECT_ROOT)
        if run.agent.path.is_relative_to(PROJECT_ROOT)
        else run.agent.path
    )
    return RunRecord(
        run_id=run.run_id,
        status=status,
        config=config_record(run),
        jobs=run.jobs,
        provider=ProviderRecord(name=run.provider.name, model=run.provider.model),
        usage=run.cost.summary(),
        response_cache=run.provider.stats() if isinstance(run.provider, CachedProvider) else None,
        agent=AgentRecord(
            name=run.agent.name,
            version=run.agent.version,
            path=str(agent_path),
            sha256=hashlib.sha256(run.agent.system_prompt.encode()).hexdigest(),
        ),
        tasks={t.id: TaskRecord(version=t.spec.version, hash=t.content_hash()) for t in run.tasks},
        graders=dict(grader_versions(DEFAULT_GRADERS)),
        database_servers=pool.versions(),
        database_servers_started=pool.started(),
        server_restarts=pool.restarts,
        runtime=run.runtime_info or runtime.describe(),
        runtime_packages=allowed_packages(),
        environment=EnvironmentRecord(
            python=platform.python_version(),
            platform=platform.platform(),
            git_commit=git_commit(),
        ),
        counters=dict(run.counters),
        started_at=run.started_at,
        finished_at=datetime.now(UTC).isoformat() if status != "running" else None,
    )
