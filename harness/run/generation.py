"""Asking the provider for a (task, sample)'s response, storing it, and extracting its
files. A response stored by an earlier attempt at the run is reused: the model is
never asked twice."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from harness.core.extract import extract_files
from harness.core.failpoints import failpoint
from harness.core.files import (
    EXTRACTION_FILE,
    FILES_DIR,
    PROMPT_FILE,
    RESPONSE_FILE,
    RESPONSE_TEXT_FILE,
    WORKSPACE_DIR,
)
from harness.core.prompts import AgentDefinition, build_user_message
from harness.core.records import ExtractionRecord
from harness.core.run_record import ResponseRecord
from harness.core.store import RunStore, write_json_atomic, write_text_atomic
from harness.core.tasks import Task
from harness.providers import (
    Exchange,
    GenerationParams,
    GenerationRequest,
    ModelResponse,
    Provider,
    is_metered,
)
from harness.providers.pricing import (
    CHARS_PER_TOKEN,
    CostPlan,
    CostTracker,
    max_cost_per_call,
    plan_cost,
    response_cost,
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
    store: RunStore, task: Task, sample: int, response: ModelResponse, round_number: int = 1
) -> tuple[dict[str, str], ExtractionRecord]:
    folder = store.sample_dir(task.id, sample, round_number)
    files, extraction = extract_response(response)
    store.write_files(folder / FILES_DIR, files)
    write_json_atomic(folder / EXTRACTION_FILE, extraction.model_dump())
    return files, extraction


def graded_text(response: ModelResponse) -> str | None:
    """The answer text the checklist grades for format: None for a workspace agent,
    whose files did not come from its text."""
    return response.text if response.files is None else None


# The most characters of feedback one round adds to the conversation (log tail, smoke
# results): what the cost plan assumes for each later round's prompt.
FEEDBACK_CHARS_ALLOWANCE = 12_000


def plan_run_cost(
    provider: Provider,
    model: str,
    max_cost: float | None,
    agent: AgentDefinition,
    tasks: list[Task],
    samples: int,
    params: GenerationParams,
    rounds: int = 1,
) -> CostPlan | None:
    """Check --max-cost against the run's worst case before anything starts: one call per
    task, sample and round, each as long as the last round's (the task, then every
    earlier answer at full max tokens and its feedback). Providers that make no paid call
    (reference, replay) have nothing to cap."""
    if max_cost is None:
        return None
    if not is_metered(provider):
        print(
            f"harness: --max-cost ignored: MODEL={model} makes no paid call",
            file=sys.stderr,
        )
        return None
    prompt_chars = max(len(agent.system_prompt) + len(build_user_message(t.brief())) for t in tasks)
    later = params.max_tokens * CHARS_PER_TOKEN + FEEDBACK_CHARS_ALLOWANCE
    prompt_chars += int((rounds - 1) * later)
    plan = plan_cost(
        provider.model,
        max_cost,
        calls=len(tasks) * samples * rounds,
        prompt_chars=prompt_chars,
        max_tokens=params.max_tokens,
        per_call=max_cost_per_call(provider),
    )
    print(f"harness: {plan.describe()}", file=sys.stderr)
    return plan


@dataclass
class Generation:
    """Responses for one run: stored in its folder as they arrive."""

    store: RunStore
    provider: Provider
    agent: AgentDefinition
    params: GenerationParams
    cost: CostTracker
    count: Callable[[str], None]

    def stored_response(
        self, task: Task, sample: int, round_number: int = 1
    ) -> ModelResponse | None:
        """A response saved by an earlier attempt at this run: never ask the model twice."""
        folder = self.store.sample_dir(task.id, sample, round_number)
        try:
            meta = (folder / RESPONSE_FILE).read_text(encoding="utf-8")
            text = (folder / RESPONSE_TEXT_FILE).read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            response = ModelResponse.model_validate_json(meta)
        except ValidationError:
            return None
        return response.model_copy(update={"text": text})

    def generate(
        self, task: Task, sample: int, history: tuple[Exchange, ...] = ()
    ) -> ModelResponse:
        """The answer of round len(history) + 1: the earlier rounds' answers and
        feedback are the conversation before it."""
        round_number = len(history) + 1
        stored = self.stored_response(task, sample, round_number)
        if stored is not None:
            self.count("reused_responses")
            return stored
        request = GenerationRequest(
            task_id=task.id,
            sample=sample,
            system_prompt=self.agent.system_prompt,
            user_message=build_user_message(task.brief()),
            params=self.params,
            agent_name=self.agent.name,
            agent_file=self.agent.path.read_text(encoding="utf-8"),
            history=history,
        )
        folder = self.store.sample_dir(task.id, sample, round_number)
        prompt: dict[str, object] = {"system": request.system_prompt, "user": request.user_message}
        if history:  # a later round: the whole conversation it answers
            prompt["conversation"] = request.conversation()
        write_json_atomic(folder / PROMPT_FILE, prompt)
        began = time.monotonic()
        response = self.provider.generate(request)
        response.seconds = response.seconds or round(time.monotonic() - began, 3)
        write_text_atomic(folder / RESPONSE_TEXT_FILE, response.text)
        if response.files is not None:
            self.store.write_files(folder / WORKSPACE_DIR, response.files)
        for name, content in (response.artifacts or {}).items():
            write_text_atomic(folder / name, content)  # a session's transcript and summary
        # response.json last: its presence marks the response as complete. `cost_usd` is
        # what the call cost when it was made (a cache hit cost this run nothing).
        record = ResponseRecord(
            **response.model_dump(exclude={"text", "artifacts", "cost_usd"}),
            cost_usd=response_cost(response, self.provider.model, self.cost.prices),
        )
        write_json_atomic(folder / RESPONSE_FILE, record.model_dump(mode="json"))
        if response.truncated:
            print(
                f"harness: {task.id} #{sample}: the answer was cut off "
                f"({response.finish_reason}); graded as is, marked truncated",
                file=sys.stderr,
            )
        self.count("generated")
        failpoint("after-generate")
        return response
