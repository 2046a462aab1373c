"""`harness eval`: prompt -> response -> files -> app -> grades -> results/<run_id>/.

The engine schedules; the work is elsewhere: the configuration (config), asking the
provider and extracting files (generation), grading one job (worker, fed `GradingJob`s,
plain data), what run.json says (run_info), and where calls run (executor).

Work is split into (task, sample) units: generation of one sample overlaps grading of
another. Everything is written as it finishes (atomic files, locked JSONL appends), so
a run killed at any moment resumes where it stopped: stored responses are not asked for
again, finished rows are not graded again.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, closing
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.files import RUN_FILE
from harness.core.prompts import AgentDefinition, load_agent
from harness.core.records import SampleResult
from harness.core.settings import EXECUTORS
from harness.core.store import RunStore
from harness.core.tasks import Task, load_tasks
from harness.grading.integrity import SourceIntegrity
from harness.grading.pipeline import infra_row
from harness.providers import (
    Exchange,
    ModelResponse,
    Provider,
    is_multi_round,
    provider_class,
    registered_providers,
    resolve_provider,
)
from harness.providers.aliases import expand_model_spec
from harness.providers.cache import ResponseCache, with_cache
from harness.providers.limits import concurrency_limit
from harness.providers.pricing import BudgetedProvider, CostCapReached, CostTracker
from harness.run.config import EvalConfig, default_jobs, make_run_id
from harness.run.executor import Executor, ThreadExecutor
from harness.run.feedback import round_feedback
from harness.run.generation import Generation, graded_text, plan_run_cost, store_extraction
from harness.run.grade_cache import GradeCache
from harness.run.jobs import GradingJob, make_jobs
from harness.run.progress import RunProgress
from harness.run.ray_executor import RayExecutor
from harness.run.run_info import check_resumable, run_info
from harness.run.worker import GradingWorker
from harness.sandbox.backend import open_backend, resolve_backend
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import ServerPool, ServerSource


class EvalRun:
    """One evaluation: every task x sample x database, written as it goes."""

    def __init__(self, config: EvalConfig, provider: Provider | None = None) -> None:
        if config.samples < 1:
            raise HarnessError(f"SAMPLES must be at least 1 (got {config.samples})")
        if config.rounds < 1:
            raise HarnessError(f"ROUNDS must be at least 1 (got {config.rounds})")
        self.jobs = config.jobs or default_jobs()
        if config.executor not in EXECUTORS:
            raise HarnessError(
                f"unknown executor {config.executor!r} (known: {', '.join(EXECUTORS)})"
            )
        if config.executor == "ray" and config.rounds > 1:
            # The feedback between rounds boots the answer where the run is started; with
            # Ray the head has no runtime or servers of its own.
            raise HarnessError(
                "--rounds above 1 is not supported with --executor ray yet (the feedback "
                "between rounds boots each answer on the head); run it with --executor threads"
            )
        # On a Ray cluster the nodes run the backend: `auto` is resolved from what they offer.
        self.cluster: RayExecutor | None = None
        self.runtime_name = (
            config.runtime if config.executor == "ray" else resolve_backend(config.runtime)
        )
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
        if config.rounds > 1:
            # From the class first: a refused run opens no client or sandbox.
            check_rounds(provider or provider_class(config.model), config.model, self.tasks)
        model_provider = provider or resolve_provider(config.model)
        self.model_provider = model_provider
        self.cost_plan = plan_run_cost(
            model_provider,
            config.model,
            config.max_cost,
            self.agent,
            self.tasks,
            config.samples,
            config.params,
            config.rounds,
        )
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
        if config.executor == "ray":
            self.counters["infra_retries"] = 0  # jobs sent again after their node was lost
        self._counter_lock = threading.Lock()
        self.generation = Generation(
            self.store, self.provider, self.agent, config.params, self.cost, self._count
        )

    def _count(self, name: str) -> None:
        with self._counter_lock:
            self.counters[name] += 1

    # -- the run ----------------------------------------------------------------------

    def execute(self) -> Path:
        if (self.store.root / RUN_FILE).exists():
            check_resumable(self)
        finished = {
            (r.task, r.sample, r.round, r.database)
            for r in self.store.compact(lambda row: row.infra_error is None)
        }
        units = [(task, sample) for task in self.tasks for sample in range(self.config.samples)]
        rounds = range(1, self.config.rounds + 1)
        total = len(units) * len(rounds) * len(self.config.databases)
        stack = ExitStack()
        runtime, source = self._open_runtime(stack)
        with stack, RunProgress(total, already_done=len(finished)) as progress:
            progress.log(
                f"run {self.run_id}: {len(self.tasks)} task(s) x {self.config.samples} "
                f"sample(s) x {len(self.config.databases)} database(s)"
                + (f" x {self.config.rounds} rounds" if self.config.rounds > 1 else "")
                + ", model "
                f"{self.config.model}, prompt {self.agent.ref}, runtime {self.runtime_name}, "
                f"{self.jobs} job(s)" + (f", resuming {len(finished)} done" if finished else "")
            )
            pool = ServerPool(self.config.databases, source)
            try:
                self.store.write_run_record(run_info(self, pool, runtime, "running"))
                pending = [
                    (
                        task,
                        sample,
                        {
                            r: [
                                k
                                for k in self.config.databases
                                if (task.id, sample, r, k) not in finished
                            ]
                            for r in rounds
                        },
                    )
                    for task, sample in units
                ]
                self._run_stages(
                    [p for p in pending if any(p[2].values())], pool, runtime, progress
                )
                status = "stopped: cost cap reached" if self.stopped else "complete"
                self.store.write_run_record(run_info(self, pool, runtime, status))
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
        the backend, closed (for docker: all it made removed) when `stack` closes. With
        the Ray executor each node opens its own; the head keeps the nodes' description."""
        if self.config.executor == "ray":
            cluster = RayExecutor(
                self.runtime_name,
                self.config.databases,
                self.run_id,
                {task.id: task for task in self.tasks},
                self.store,
                self._count,
                address=self.config.ray_address,
            )
            stack.callback(cluster.close)
            self.cluster = cluster
            self.runtime_name = cluster.runtime_name
            self.runtime_info = cluster.describe()
            return cluster.runtime, cluster.servers
        backend = stack.enter_context(open_backend(self.runtime_name, self.run_id))
        self.runtime_info = backend.describe()
        return backend.runtime, backend

    def executors(self) -> tuple[Executor, Executor]:
        """Where generation (network-bound, as many at once as the provider allows) and
        grading (CPU-bound, `jobs` at once) run."""
        generation_workers = max(self.jobs, concurrency_limit())
        generators = ThreadExecutor(generation_workers, "generate")
        if self.cluster is not None:
            return generators, self.cluster
        return generators, ThreadExecutor(self.jobs, "grade")

    def _run_stages(
        self,
        pending: list[tuple[Task, int, dict[int, list[str]]]],
        pool: ServerPool,
        runtime: Runtime,
        progress: RunProgress,
    ) -> None:
        """Generate each (task, sample) and grade each (task, sample, database) as soon as
        its response exists: generation and grading run in their own executors and
        overlap."""
        worker = GradingWorker(
            tasks={task.id: task for task in self.tasks},
            store=self.store,
            pool=pool,
            runtime=runtime,
            grade_cache=self.grade_cache,
            verify_integrity=self._verify_integrity,
            count=self._count,
            remote=self.cluster.grade if self.cluster is not None else None,
        )
        generators, graders = self.executors()
        with closing(graders), closing(generators):
            graded = [
                graders.submit(self._grade_job, worker, job, progress)
                for jobs in generators.map_unordered(
                    lambda unit: self._generate_unit(*unit, pool, runtime, progress), pending
                )
                for job in jobs
            ]
            for future in graded:
                future.result()

    def _generate_unit(
        self,
        task: Task,
        sample: int,
        kinds_by_round: dict[int, list[str]],
        pool: ServerPool,
        runtime: Runtime,
        progress: RunProgress,
    ) -> list[GradingJob]:
        """Every round of (task, sample), stored and extracted, one job per database not
        yet graded. After each round but the last, the answer is booted and smoke-checked
        and that feedback is the next round's user message (`--rounds`); a resumed run
        reuses the stored answers and feedback and continues at the first missing round."""
        jobs: list[GradingJob] = []
        history: tuple[Exchange, ...] = ()
        last = max(kinds_by_round)
        for round_number in sorted(kinds_by_round):
            kinds = kinds_by_round[round_number]
            label = f"{task.id} #{sample}" + (f" round {round_number}" if last > 1 else "")
            response = self._generate_round(task, sample, history, kinds, label, progress)
            if response is None:
                return jobs  # stopped (cost cap) or failed: later rounds cannot be asked
            files, extraction = store_extraction(self.store, task, sample, response, round_number)
            jobs += make_jobs(
                task, sample, kinds, files, extraction, graded_text(response), round_number
            )
            if round_number == last:
                break
            progress.stage("feedback", +1)
            try:
                feedback = round_feedback(
                    self.store,
                    task,
                    sample,
                    round_number,
                    files,
                    pool,
                    self.config.databases[0],
                    runtime,
                )
            except Exception as exc:  # InfrastructureError: the harness's, never the model's
                progress.log(f"{label}: feedback failed: {exc}")
                for later, later_kinds in kinds_by_round.items():
                    if later > round_number:
                        for kind in later_kinds:
                            row = infra_row(task, sample, kind, f"round feedback failed: {exc}")
                            row.round = later
                            self._record(row, progress)
                return jobs
            finally:
                progress.stage("feedback", -1)
            history = (*history, Exchange(answer=response.text, feedback=feedback))
        return jobs

    def _generate_round(
        self,
        task: Task,
        sample: int,
        history: tuple[Exchange, ...],
        kinds: list[str],
        label: str,
        progress: RunProgress,
    ) -> ModelResponse | None:
        """One round's answer; None when the cost cap stopped the run or the provider
        failed (this round's missing rows then recorded as infra errors)."""
        if self.stopped:
            return None  # the cost cap was reached: leave the unit for a resume with a higher cap
        progress.stage("generating", +1)
        try:
            return self.generation.generate(task, sample, history)
        except CostCapReached as exc:
            if not self.stopped:
                self.stopped = str(exc)
                progress.log(f"{exc}: stopping; what finished is kept")
            return None
        except Exception as exc:  # a provider's failure (ProviderError) is never the model's score
            progress.log(f"{label}: generation failed: {exc}")
            for kind in kinds:
                row = infra_row(
                    task, sample, kind, f"generation failed: {exc.__class__.__name__}: {exc}"
                )
                row.round = len(history) + 1
                self._record(row, progress)
            return None
        finally:
            progress.stage("generating", -1)

    def _grade_job(self, worker: GradingWorker, job: GradingJob, progress: RunProgress) -> None:
        progress.stage("grading", +1)
        try:
            result = worker.grade(job)
        finally:
            progress.stage("grading", -1)
        self._record(result, progress)

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


def check_rounds(provider: Provider | type[Provider], model: str, tasks: list[Task]) -> None:
    """`--rounds N > 1` needs a provider that takes the conversation so far, and a public
    smoke check in every task (loaded now: a missing or malformed one names its file)."""
    if not is_multi_round(provider):
        raise HarnessError(
            f"MODEL={model}: --rounds above 1 is not supported by the {provider.name!r} "
            "provider (it cannot be given the earlier answers and their feedback); the "
            "chat providers (anthropic, openai, openai-compatible) and the offline ones "
            "(reference, replay) can. Run it with --rounds 1."
        )
    for task in tasks:
        task.smoke_plan  # noqa: B018 - raises, naming the file, when missing or malformed


def run_eval(config: EvalConfig) -> Path:
    return EvalRun(config).execute()
