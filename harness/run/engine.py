"""`harness eval`: prompt -> response -> files -> app -> grades -> results/<run_id>/.

Work is split into (task, sample) units run by a pool of workers, so generation of one
sample overlaps grading of another. Everything is written as it finishes (atomic files,
locked JSONL appends), so a run killed at any moment resumes where it stopped: stored
responses are not asked for again, finished rows are not graded again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.errors import HarnessError
from harness.core.extract import extract_files
from harness.core.failpoints import failpoint
from harness.core.prompts import AgentDefinition, allowed_packages, build_user_message, load_agent
from harness.core.records import BootRecord, ExtractionRecord, SampleResult
from harness.core.settings import (
    DATABASE_KINDS,
    DEFAULT_DATABASES,
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    PROJECT_ROOT,
    RESULTS_DIR,
)
from harness.core.store import RUN_FILE, RunStore, write_json_atomic, write_text_atomic
from harness.core.tasks import Task, load_tasks
from harness.grading.integrity import SourceIntegrity
from harness.grading.pipeline import DEFAULT_GRADERS, CandidateRun, grade_candidate, grader_versions
from harness.grading.scoring import composite_version
from harness.providers import (
    GenerationParams,
    GenerationRequest,
    ModelResponse,
    Provider,
    registered_providers,
    resolve_provider,
)
from harness.providers.aliases import expand_model_spec
from harness.providers.cache import CachedProvider, ResponseCache, with_cache
from harness.providers.limits import concurrency_limit
from harness.providers.pricing import (
    BudgetedProvider,
    CostCapReached,
    CostPlan,
    CostTracker,
    max_cost_per_call,
    plan_cost,
    response_cost,
)
from harness.run.grade_cache import GradeCache, grade_key
from harness.run.progress import RunProgress
from harness.sandbox.backend import open_backend, resolve_backend
from harness.sandbox.databases import DatabaseServer, server_alive
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import ServerPool, ServerSource

INFRA_ATTEMPTS = 3


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


def default_jobs() -> int:
    """Workers: one per core (boot and the hidden tests each keep a core busy)."""
    return max(1, os.cpu_count() or 1)


def make_run_id(model: str, prompt: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() else "-" for ch in f"{model}-{prompt}").strip("-")[:48]
    return f"{stamp}-{slug}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:4]}"


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


def config_from_run(results_dir: Path, run_id: str) -> EvalConfig:
    """The configuration a stored run was started with, to resume it."""
    path = results_dir / run_id / RUN_FILE
    try:
        info = RunStore(path.parent).read_run_info()
        stored = info["config"]
        return EvalConfig(
            model=stored["model"],
            prompt=stored["prompt"],
            tasks=",".join(stored["tasks"]),
            samples=int(stored["samples"]),
            databases=tuple(stored["databases"]),
            runtime=stored.get("requested_runtime", stored["runtime"]),
            params=GenerationParams.model_validate(stored["params"]),
            results_dir=results_dir,
            run_id=run_id,
            max_cost=stored.get("max_cost_usd"),
            response_cache=stored.get("response_cache", True),
        )
    except FileNotFoundError as exc:
        raise HarnessError(f"cannot resume {run_id!r}: no {path}") from exc
    except (KeyError, ValueError, TypeError, ValidationError) as exc:
        raise HarnessError(f"cannot resume {run_id!r}: {path} is malformed ({exc})") from exc


def extract_response(response: ModelResponse) -> tuple[dict[str, str], ExtractionRecord]:
    """Files from a response (a workspace's, or parsed from the text) and how."""
    if response.files is not None:
        record = ExtractionRecord(
            shape="workspace",
            truncated=response.truncated,
            problems=[],
            files=sorted(response.files),
        )
        return response.files, record
    extracted = extract_files(response.text)
    problems = list(extracted.problems)
    if response.truncated:
        problems.append(
            f"the provider reports the answer was cut off (finish_reason {response.finish_reason})"
        )
    record = ExtractionRecord(
        shape=extracted.shape,
        truncated=extracted.truncated or response.truncated,
        problems=problems,
        files=sorted(extracted.files),
    )
    return extracted.files, record


def store_extraction(
    store: RunStore, task: Task, sample: int, response: ModelResponse
) -> tuple[dict[str, str], ExtractionRecord]:
    folder = store.sample_dir(task.id, sample)
    files, extraction = extract_response(response)
    store.write_files(folder / "files", files)
    write_json_atomic(folder / "extraction.json", extraction.model_dump())
    return files, extraction


def graded_text(response: ModelResponse) -> str | None:
    """The answer text the checklist grades for format: None for a workspace agent,
    whose files did not come from its text."""
    return response.text if response.files is None else None


def grade_response(
    task: Task,
    response: ModelResponse,
    sample: int,
    servers: dict[str, DatabaseServer],
    runtime: Runtime,
    store: RunStore,
) -> list[SampleResult]:
    """Extract, store and grade one response on every database server given."""
    files, extraction = store_extraction(store, task, sample, response)
    results = []
    for kind, server in servers.items():
        result = grade_candidate(
            CandidateRun(
                task=task,
                files=files,
                files_dir=store.sample_dir(task.id, sample) / "files",
                sample=sample,
                server=server,
                artifacts_dir=store.database_dir(task.id, sample, kind),
                runtime=runtime,
                response_text=graded_text(response),
            )
        )
        result.extraction = extraction
        results.append(result)
    return results


@dataclass(frozen=True)
class GradingJob:
    """One candidate on one database: the unit the grading pool runs."""

    task: Task
    sample: int
    kind: str
    files: dict[str, str]
    extraction: ExtractionRecord
    response_text: str | None


def _infra_row(task: Task, sample: int, kind: str, message: str) -> SampleResult:
    return SampleResult(
        task=task.id,
        sample=sample,
        database=kind,
        boot=BootRecord(ok=False, seconds=0.0),
        scores={},
        findings=[],
        infra_error=message,
        task_version=task.spec.version,
    )


class EvalRun:
    """One evaluation: every task x sample x database, written as it goes."""

    def __init__(self, config: EvalConfig, provider: Provider | None = None) -> None:
        if config.samples < 1:
            raise HarnessError(f"SAMPLES must be at least 1 (got {config.samples})")
        self.jobs = config.jobs or default_jobs()
        self.runtime_name = resolve_backend(config.runtime)
        self.runtime_info: dict[str, str] = {}
        # The agent first: MODEL=agent (or `anthropic:`) takes the model its front matter names.
        self.agent: AgentDefinition = load_agent(config.prompt)
        self.requested_model = config.model
        config = dataclass_replace(
            config, model=expand_model_spec(config.model, self.agent.model, registered_providers())
        )
        self.config = config
        self.tasks: list[Task] = load_tasks(config.tasks)
        if not self.tasks:
            raise HarnessError("no tasks selected")
        model_provider = provider or resolve_provider(config.model)
        self.model_provider = model_provider
        self.cost_plan = self._plan_cost(model_provider)
        self.cost = CostTracker(config.max_cost if self.cost_plan else None)
        cache = None
        if config.response_cache:
            cache = ResponseCache(config.cache_dir) if config.cache_dir else ResponseCache.default()
        # Cache outside the budget: a hit costs nothing and is never refused.
        self.provider: Provider = with_cache(BudgetedProvider(model_provider, self.cost), cache)
        self.stopped: str | None = None
        self.run_id = config.run_id or make_run_id(config.model, self.agent.ref)
        self.store = RunStore(config.results_dir / self.run_id)
        self.grade_cache = GradeCache() if config.grade_cache else None
        # The graders' code and data as the run starts; checked before every grade.
        self.integrity = SourceIntegrity()
        self.started_at = datetime.now(UTC).isoformat()
        self.counters = {"generated": 0, "reused_responses": 0, "graded": 0, "cached_grades": 0}
        self._counter_lock = threading.Lock()

    def _plan_cost(self, provider: Provider) -> CostPlan | None:
        """Check --max-cost against the run's worst case before anything starts. Providers
        that make no paid call (reference, replay) have nothing to cap."""
        if self.config.max_cost is None:
            return None
        if not getattr(provider, "cacheable", False):
            print(
                f"harness: --max-cost ignored: MODEL={self.config.model} makes no paid call",
                file=sys.stderr,
            )
            return None
        prompt_chars = max(
            len(self.agent.system_prompt) + len(build_user_message(t.brief())) for t in self.tasks
        )
        plan = plan_cost(
            provider.model,
            self.config.max_cost,
            calls=len(self.tasks) * self.config.samples,
            prompt_chars=prompt_chars,
            max_tokens=self.config.params.max_tokens,
            per_call=max_cost_per_call(provider),
        )
        print(f"harness: {plan.describe()}", file=sys.stderr)
        return plan

    def _count(self, name: str) -> None:
        with self._counter_lock:
            self.counters[name] += 1

    # -- run.json ---------------------------------------------------------------------

    def _config_record(self) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "prompt": self.agent.ref,
            "tasks": [t.id for t in self.tasks],
            "samples": self.config.samples,
            "databases": list(self.config.databases),
            "runtime": self.runtime_name,
            "requested_runtime": self.config.runtime,
            "requested_model": self.requested_model,
            "params": self.config.params.model_dump(),
            "max_cost_usd": self.config.max_cost,
            "response_cache": self.config.response_cache,
        }

    def _check_resumable(self) -> None:
        """Resuming must not mix two configurations in one run folder."""
        stored = self.store.read_run_info().get("config", {})
        mine = self._config_record()
        for key in ("model", "prompt", "tasks", "samples", "databases", "params"):
            if stored.get(key) != mine[key]:
                raise HarnessError(
                    f"run {self.run_id} was started with {key}={stored.get(key)!r}, not "
                    f"{mine[key]!r}: resume it with `harness eval --resume {self.run_id}`"
                )
        self.started_at = self.store.read_run_info().get("started_at", self.started_at)

    def run_info(self, pool: ServerPool, runtime: Runtime, status: str) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": status,
            "config": self._config_record(),
            "jobs": self.jobs,
            "provider": {"name": self.provider.name, "model": self.provider.model},
            "usage": self.cost.summary(),
            "response_cache": self.provider.stats()
            if isinstance(self.provider, CachedProvider)
            else None,
            "agent": {
                "name": self.agent.name,
                "version": self.agent.version,
                "path": str(self.agent.path.relative_to(PROJECT_ROOT))
                if self.agent.path.is_relative_to(PROJECT_ROOT)
                else str(self.agent.path),
                "sha256": hashlib.sha256(self.agent.system_prompt.encode()).hexdigest(),
            },
            "tasks": {
                t.id: {"version": t.spec.version, "hash": t.content_hash()} for t in self.tasks
            },
            "graders": dict(grader_versions(DEFAULT_GRADERS)),
            "database_servers": pool.versions(),
            "database_servers_started": pool.started(),
            "server_restarts": pool.restarts,
            "runtime": self.runtime_info or runtime.describe(),
            "runtime_packages": allowed_packages(),
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "git_commit": git_commit(),
            },
            "counters": dict(self.counters),
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat() if status != "running" else None,
        }

    # -- the run ----------------------------------------------------------------------

    def execute(self) -> Path:
        if (self.store.root / RUN_FILE).exists():
            self._check_resumable()
        finished = {
            (r.task, r.sample, r.database)
            for r in self.store.compact(lambda row: row.infra_error is None)
        }
        units = [(task, sample) for task in self.tasks for sample in range(self.config.samples)]
        total = len(units) * len(self.config.databases)
        stack = ExitStack()
        runtime, source = self._open_runtime(stack)
        with stack, RunProgress(total, already_done=len(finished)) as progress:
            progress.log(
                f"run {self.run_id}: {len(self.tasks)} task(s) x {self.config.samples} "
                f"sample(s) x {len(self.config.databases)} database(s), model "
                f"{self.config.model}, prompt {self.agent.ref}, runtime {self.runtime_name}, "
                f"{self.jobs} job(s)" + (f", resuming {len(finished)} done" if finished else "")
            )
            pool = ServerPool(self.config.databases, source)
            try:
                self.store.write_run_info(self.run_info(pool, runtime, "running"))
                pending = [
                    (
                        task,
                        sample,
                        [k for k in self.config.databases if (task.id, sample, k) not in finished],
                    )
                    for task, sample in units
                ]
                self._run_stages([p for p in pending if p[2]], pool, runtime, progress)
                status = "stopped: cost cap reached" if self.stopped else "complete"
                self.store.write_run_info(self.run_info(pool, runtime, status))
            finally:
                pool.close()
                self._close_provider()
            progress.log(
                f"results in {self.store.root} ({progress.failures} below 1.0, "
                f"{progress.infra_errors} infra errors)"
            )
        return self.store.root

    def _close_provider(self) -> None:
        """Providers that hold resources (a CLI agent's containers and proxy) release
        them when the run ends."""
        close = getattr(self.model_provider, "close", None)
        if callable(close):
            close()

    def _open_runtime(self, stack: ExitStack) -> tuple[Runtime, ServerSource]:
        """The runtime candidates boot in, and where the run's database servers come from:
        the backend, closed (for docker: all it made removed) when `stack` closes."""
        backend = stack.enter_context(open_backend(self.runtime_name, self.run_id))
        self.runtime_info = backend.describe()
        return backend.runtime, backend

    def _stored_response(self, task: Task, sample: int) -> ModelResponse | None:
        """A response saved by an earlier attempt at this run: never ask the model twice."""
        folder = self.store.sample_dir(task.id, sample)
        try:
            meta = (folder / "response.json").read_text(encoding="utf-8")
            text = (folder / "response.md").read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            response = ModelResponse.model_validate_json(meta)
        except ValidationError:
            return None
        return response.model_copy(update={"text": text})

    def _generate(self, task: Task, sample: int) -> ModelResponse:
        stored = self._stored_response(task, sample)
        if stored is not None:
            self._count("reused_responses")
            return stored
        request = GenerationRequest(
            task_id=task.id,
            sample=sample,
            system_prompt=self.agent.system_prompt,
            user_message=build_user_message(task.brief()),
            params=self.config.params,
            agent_name=self.agent.name,
            agent_file=self.agent.path.read_text(encoding="utf-8"),
        )
        folder = self.store.sample_dir(task.id, sample)
        write_json_atomic(
            folder / "prompt.json", {"system": request.system_prompt, "user": request.user_message}
        )
        began = time.monotonic()
        response = self.provider.generate(request)
        response.seconds = response.seconds or round(time.monotonic() - began, 3)
        write_text_atomic(folder / "response.md", response.text)
        if response.files is not None:
            self.store.write_files(folder / "workspace", response.files)
        for name, content in (response.artifacts or {}).items():
            write_text_atomic(folder / name, content)  # a session's transcript and summary
        # response.json last: its presence marks the response as complete. `cost_usd` is
        # what the call cost when it was made (a cache hit cost this run nothing).
        write_json_atomic(
            folder / "response.json",
            {
                **response.model_dump(exclude={"text", "artifacts"}),
                "text": "",
                "cost_usd": response_cost(response, self.provider.model, self.cost.prices),
            },
        )
        if response.truncated:
            print(
                f"harness: {task.id} #{sample}: the answer was cut off "
                f"({response.finish_reason}); graded as is, marked truncated",
                file=sys.stderr,
            )
        self._count("generated")
        failpoint("after-generate")
        return response

    def _run_stages(
        self,
        pending: list[tuple[Task, int, list[str]]],
        pool: ServerPool,
        runtime: Runtime,
        progress: RunProgress,
    ) -> None:
        """Generate each (task, sample) and grade each (task, sample, database) as soon as
        its response exists: generation (network-bound, limited per provider) and grading
        (CPU-bound, `jobs` at once) run in their own pools and overlap."""
        generation_workers = max(self.jobs, concurrency_limit())
        with (
            ThreadPoolExecutor(self.jobs, thread_name_prefix="grade") as graders,
            ThreadPoolExecutor(generation_workers, thread_name_prefix="generate") as generators,
        ):
            generated = [
                generators.submit(self._generate_unit, task, sample, kinds, progress)
                for task, sample, kinds in pending
            ]
            graded: list[Future[None]] = []
            for done in as_completed(generated):
                for job in done.result():
                    graded.append(graders.submit(self._grade_job, job, pool, runtime, progress))
            for future in graded:
                future.result()

    def _generate_unit(
        self, task: Task, sample: int, kinds: list[str], progress: RunProgress
    ) -> list[GradingJob]:
        """The response for (task, sample), stored and extracted: one job per database."""
        if self.stopped:
            return []  # the cost cap was reached: leave the unit for a resume with a higher cap
        progress.stage("generating", +1)
        try:
            response = self._generate(task, sample)
        except CostCapReached as exc:
            if not self.stopped:
                self.stopped = str(exc)
                progress.log(f"{exc}: stopping; what finished is kept")
            return []
        except Exception as exc:  # a provider's failure (ProviderError) is never the model's score
            progress.log(f"{task.id} #{sample}: generation failed: {exc}")
            for kind in kinds:
                self._record(
                    _infra_row(
                        task, sample, kind, f"generation failed: {exc.__class__.__name__}: {exc}"
                    ),
                    progress,
                )
            return []
        finally:
            progress.stage("generating", -1)
        files, extraction = store_extraction(self.store, task, sample, response)
        text = graded_text(response)
        return [GradingJob(task, sample, kind, files, extraction, text) for kind in kinds]

    def _grade_job(
        self, job: GradingJob, pool: ServerPool, runtime: Runtime, progress: RunProgress
    ) -> None:
        progress.stage("grading", +1)
        try:
            result = self._grade(
                job.task, job.sample, job.kind, job.files, pool, runtime, job.response_text
            )
        finally:
            progress.stage("grading", -1)
        result.extraction = job.extraction
        self._record(result, progress)

    def _grade(
        self,
        task: Task,
        sample: int,
        kind: str,
        files: dict[str, str],
        pool: ServerPool,
        runtime: Runtime,
        response_text: str | None = None,
    ) -> SampleResult:
        """A cached grade when the inputs are unchanged; else grade, recovering servers."""
        self._verify_integrity()
        key = grade_key(
            files,
            task.content_hash(),
            [*grader_versions(DEFAULT_GRADERS), ("composite", composite_version())],
            runtime.describe(),
            pool.version(kind),
            kind,
            response_text,
        )
        if self.grade_cache is not None and (cached := self.grade_cache.get(key)):
            self._count("cached_grades")
            return replace_sample(cached, sample)
        result = _infra_row(task, sample, kind, "not graded")
        for _ in range(INFRA_ATTEMPTS):
            server = pool.get(kind)
            run = CandidateRun(
                task=task,
                files=files,
                sample=sample,
                server=server,
                files_dir=self.store.sample_dir(task.id, sample) / "files",
                artifacts_dir=self.store.database_dir(task.id, sample, kind),
                runtime=runtime,
                response_text=response_text,
            )
            result = grade_candidate(run, attempts=1)
            if result.infra_error is None and not server_alive(server):
                # The server died under the app: its failures are not the model's.
                result = _infra_row(task, sample, kind, f"the {kind} server died during grading")
            if result.infra_error is None:
                break
            pool.recover(kind, server)
        self._count("graded")
        # Checked again before the grade is kept: a candidate that tampered while it was
        # graded must not leave its grade behind (in the cache or the results).
        self._verify_integrity()
        if self.grade_cache is not None and not has_grader_error(result):
            self.grade_cache.put(key, result)
        return result

    def _verify_integrity(self) -> None:
        """Stop the run (no new generation either) when tasks/ or the graders changed."""
        try:
            self.integrity.verify()
        except HarnessError as exc:
            self.stopped = str(exc)
            raise

    def _record(self, result: SampleResult, progress: RunProgress) -> None:
        result.run_id = self.run_id
        result.model = self.config.model
        result.prompt = self.agent.ref
        self.store.append_result(result)
        progress.row_done(result)


def has_grader_error(result: SampleResult) -> bool:
    """Whether a grader raised on this row: never cached, so a fixed grader grades again."""
    return any(finding.check == "grader-error" for finding in result.findings)


def replace_sample(result: SampleResult, sample: int) -> SampleResult:
    return result.model_copy(update={"sample": sample})


def run_eval(config: EvalConfig) -> Path:
    return EvalRun(config).execute()


class StoredResponsesOnly:
    """The provider for `harness regrade`: every response must already be stored."""

    name = "stored"

    def __init__(self, model: str) -> None:
        self.model = model

    def generate(self, request: GenerationRequest) -> ModelResponse:
        raise HarnessError(
            f"no stored response for {request.task_id} #{request.sample}: regrade makes no "
            "model call (resume the run instead)"
        )


def regrade_run(results_dir: Path, run_id: str) -> Path:
    """Re-grade a run's stored responses with the current graders; no model call."""
    config = replace_config(config_from_run(results_dir, run_id), grade_cache=False, max_cost=None)
    store = RunStore(results_dir / run_id)
    if store.results_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        store.results_path.rename(store.root / f"results.before-regrade-{stamp}.jsonl")
    return EvalRun(config, provider=StoredResponsesOnly(config.model)).execute()


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
