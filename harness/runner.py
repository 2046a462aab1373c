"""`harness eval`: prompt -> response -> files -> app -> grades -> results/<run_id>/."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.agents import GenerationParams, GenerationRequest, ModelResponse, resolve_provider
from harness.config import (
    DEFAULT_DATABASES,
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    PROJECT_ROOT,
    RESULTS_DIR,
)
from harness.errors import HarnessError
from harness.extract import extract_files
from harness.grading import CandidateRun, grade_candidate
from harness.prompts import AgentDefinition, allowed_packages, build_user_message, load_agent
from harness.results import BootRecord, ExtractionRecord, SampleResult
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime_venv import ensure_runtime_venv
from harness.sandbox.servers import database_servers
from harness.store import RunStore, write_json_atomic, write_text_atomic
from harness.tasks import Task, load_tasks

RUNTIMES = ("auto", "local", "docker")


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


def resolve_runtime(requested: str) -> str:
    """Only the local runtime exists so far; `auto` picks it."""
    if requested not in RUNTIMES:
        raise HarnessError(f"unknown runtime {requested!r} (known: {', '.join(RUNTIMES)})")
    if requested == "docker":
        raise HarnessError("the docker runtime is not available yet: use RUNTIME=local (or auto)")
    return "local"


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


def _log(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr, flush=True)


class EvalRun:
    """One evaluation: every task x sample x database, written as it goes."""

    def __init__(self, config: EvalConfig) -> None:
        if config.samples < 1:
            raise HarnessError(f"SAMPLES must be at least 1 (got {config.samples})")
        self.config = config
        self.runtime = resolve_runtime(config.runtime)
        self.provider = resolve_provider(config.model)
        self.agent: AgentDefinition = load_agent(config.prompt)
        self.tasks: list[Task] = load_tasks(config.tasks)
        if not self.tasks:
            raise HarnessError("no tasks selected")
        self.run_id = config.run_id or make_run_id(config.model, self.agent.ref)
        self.store = RunStore(config.results_dir / self.run_id)
        self.total = len(self.tasks) * config.samples * len(config.databases)
        self.done = 0

    def run_info(self, servers: dict[str, DatabaseServer], status: str) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": status,
            "config": {
                "model": self.config.model,
                "prompt": self.agent.ref,
                "tasks": [t.id for t in self.tasks],
                "samples": self.config.samples,
                "databases": list(self.config.databases),
                "runtime": self.runtime,
                "params": self.config.params.model_dump(),
            },
            "provider": {"name": self.provider.name, "model": self.provider.model},
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
            "database_servers": {kind: server.version() for kind, server in servers.items()},
            "runtime_packages": allowed_packages(),
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "git_commit": git_commit(),
            },
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat() if status != "running" else None,
        }

    def execute(self) -> Path:
        self.started_at = datetime.now(UTC).isoformat()
        python = ensure_runtime_venv()
        _log(
            f"run {self.run_id}: {len(self.tasks)} task(s) x {self.config.samples} sample(s) "
            f"x {len(self.config.databases)} database(s), model {self.config.model}, "
            f"prompt {self.agent.ref}, runtime {self.runtime}"
        )
        with database_servers(self.config.databases) as servers:
            self.store.write_run_info(self.run_info(servers, "running"))
            for task in self.tasks:
                for sample in range(self.config.samples):
                    self._run_sample(task, sample, servers, python)
            self.store.write_run_info(self.run_info(servers, "complete"))
        _log(f"results in {self.store.root}")
        return self.store.root

    def _generate(self, task: Task, sample: int) -> ModelResponse:
        request = GenerationRequest(
            task_id=task.id,
            sample=sample,
            system_prompt=self.agent.system_prompt,
            user_message=build_user_message(task.brief()),
            params=self.config.params,
        )
        folder = self.store.sample_dir(task.id, sample)
        write_json_atomic(
            folder / "prompt.json", {"system": request.system_prompt, "user": request.user_message}
        )
        began = time.monotonic()
        response = self.provider.generate(request)
        response.seconds = response.seconds or round(time.monotonic() - began, 3)
        write_text_atomic(folder / "response.md", response.text)
        write_json_atomic(folder / "response.json", response.model_dump(exclude={"text", "files"}))
        return response

    def _run_sample(
        self, task: Task, sample: int, servers: dict[str, DatabaseServer], python: Path
    ) -> None:
        try:
            response = self._generate(task, sample)
        except Exception as exc:  # a provider's failure is never the model's score
            _log(f"{task.id} #{sample}: generation failed: {exc}")
            for kind in self.config.databases:
                self._record(
                    SampleResult(
                        task=task.id,
                        sample=sample,
                        database=kind,
                        boot=BootRecord(ok=False, seconds=0.0),
                        scores={},
                        findings=[],
                        infra_error=f"generation failed: {exc.__class__.__name__}: {exc}",
                        task_version=task.spec.version,
                    )
                )
            return
        for result in grade_response(task, response, sample, servers, python, self.store):
            self._record(result)

    def _record(self, result: SampleResult) -> None:
        result.run_id = self.run_id
        result.model = self.config.model
        result.prompt = self.agent.ref
        self.store.append_result(result)
        self.done += 1
        if result.infra_error:
            summary = f"INFRA ERROR: {result.infra_error.splitlines()[0]}"
        else:
            parts = " ".join(f"{k} {v:.2f}" for k, v in result.scores.items() if k != "overall")
            summary = f"overall {result.scores.get('overall', 0):.2f} ({parts})"
        _log(
            f"[{self.done}/{self.total}] {result.task} #{result.sample} {result.database}: "
            f"{summary} in {result.timings.get('total', 0):.1f}s"
        )


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
        problems.append("the provider reports the answer was cut off (max tokens)")
    record = ExtractionRecord(
        shape=extracted.shape,
        truncated=extracted.truncated or response.truncated,
        problems=problems,
        files=sorted(extracted.files),
    )
    return extracted.files, record


def grade_response(
    task: Task,
    response: ModelResponse,
    sample: int,
    servers: dict[str, DatabaseServer],
    python: Path,
    store: RunStore,
) -> list[SampleResult]:
    """Extract, store and grade one response on every database server given."""
    folder = store.sample_dir(task.id, sample)
    files, extraction = extract_response(response)
    store.write_files(folder / "files", files)
    write_json_atomic(folder / "extraction.json", extraction.model_dump())
    results = []
    for kind, server in servers.items():
        result = grade_candidate(
            CandidateRun(
                task=task,
                files=files,
                files_dir=folder / "files",
                sample=sample,
                server=server,
                artifacts_dir=store.database_dir(task.id, sample, kind),
                python=python,
            )
        )
        result.extraction = extraction
        results.append(result)
    return results


def run_eval(config: EvalConfig) -> Path:
    return EvalRun(config).execute()


def parse_databases(value: str | Sequence[str]) -> tuple[str, ...]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(p.strip() for p in parts if p.strip())
    for kind in kinds:
        if kind not in DEFAULT_DATABASES:
            raise HarnessError(f"unknown database {kind!r} (known: {', '.join(DEFAULT_DATABASES)})")
    if not kinds:
        raise HarnessError("no database selected")
    return kinds
