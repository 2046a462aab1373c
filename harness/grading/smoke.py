"""What a developer sees after starting the app, without the hidden tests: the boot
log's tail and the task's public smoke check (`tasks/<id>/smoke.yaml`), rendered as the
feedback a model gets between rounds (`--rounds`). Nothing here is scored.

The text is made deterministic where the app's run is not (ports, process ids), so an
unchanged answer gets the same feedback and a re-run hits the response cache."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.core.errors import InfrastructureError
from harness.core.files import APP_LOG
from harness.core.smoke import SmokeStep, fill
from harness.core.tasks import Task
from harness.grading.pipeline import CandidateRun, LiveSample
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime

LOG_TAIL_LINES = 40
BODY_CHARS = 300
REQUEST_TIMEOUT_S = 10.0
SMOKE_BUDGET_S = 60.0
_ADDRESS = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}:\d+\b|\blocalhost:\d+\b")
_PID = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class StepOutcome:
    step: SmokeStep
    status: int | None  # None: no answer (the app is down, a timeout)
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is not None and str(self.status)[0] == self.step.expect[0]


@dataclass
class SmokeReport:
    booted: bool
    boot_error: str | None
    log_tail: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(outcome.ok for outcome in self.steps)

    @property
    def all_passed(self) -> bool:
        return self.booted and self.passed == len(self.steps)

    def feedback(self, round_number: int) -> str:
        """The follow-up message after round `round_number`: the boot log and the smoke
        results, and the request to answer again with the whole files."""
        lines = [
            f"Here is what happened when your answer (round {round_number}) was run, as a "
            "developer would see it: the app's startup log and a short smoke check of the "
            "contract. (The graders' hidden tests are not shown.)",
            "",
            "## Startup",
            "",
            "The app started and served /openapi.json."
            if self.booted
            else f"The app did not start: {_normalize(self.boot_error or 'unknown error')}",
            "",
            f"## App log (last {LOG_TAIL_LINES} lines)",
            "",
            "```",
            self.log_tail or "(empty)",
            "```",
            "",
        ]
        if self.booted:
            lines += [
                f"## Smoke check: {self.passed} of {len(self.steps)} requests as expected",
                "",
            ]
            for outcome in self.steps:
                step = outcome.step
                got = "no answer" if outcome.status is None else str(outcome.status)
                verdict = "ok  " if outcome.ok else "FAIL"
                line = (
                    f"- {verdict} {step.method} {step.path} ({step.name}): "
                    f"got {got}, expected {step.expect}"
                )
                if not outcome.ok and outcome.detail:
                    line += f"; response: {outcome.detail}"
                lines.append(line)
            lines.append("")
        else:
            lines += ["## Smoke check: not run (the app did not start)", ""]
        lines.append(
            "Fix what is wrong and answer again with the whole files of your app, every "
            "file, in the same format as before."
        )
        return "\n".join(lines) + "\n"


def _normalize(text: str) -> str:
    """Ports and process ids change run to run; the model does not need them."""
    return _PID.sub("[pid]", _ADDRESS.sub("<address>", text))


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return _normalize("\n".join(text.splitlines()[-LOG_TAIL_LINES:]))


def _body_excerpt(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return _normalize(text[:BODY_CHARS] + ("..." if len(text) > BODY_CHARS else ""))


def run_steps(base_url: str, steps: list[SmokeStep]) -> list[StepOutcome]:
    """Send each step in order (bounded per request and in total); values saved from
    the answers feed later steps."""
    saved: dict[str, object] = {}
    outcomes: list[StepOutcome] = []
    deadline = time.monotonic() + SMOKE_BUDGET_S
    with httpx.Client(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, follow_redirects=True
    ) as client:
        for step in steps:
            if time.monotonic() > deadline:
                outcomes.append(
                    StepOutcome(step, None, "not sent: the smoke check ran out of time")
                )
                continue
            headers = {}
            if step.auth is not None:
                headers["Authorization"] = f"Bearer {saved.get(step.auth, '')}"
            try:
                response = client.request(
                    step.method,
                    str(fill(step.path, saved)),
                    params={k: str(fill(v, saved)) for k, v in step.query.items()},
                    json=fill(step.body, saved) if step.body is not None else None,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                outcomes.append(StepOutcome(step, None, f"{exc.__class__.__name__}"))
                continue
            outcome = StepOutcome(step, response.status_code, _body_excerpt(response))
            outcomes.append(outcome)
            if outcome.ok and step.save:
                try:
                    answer = response.json()
                except json.JSONDecodeError:
                    answer = None
                for name, key in step.save.items():
                    if isinstance(answer, dict) and key in answer:
                        saved[name] = answer[key]
    return outcomes


def smoke_check(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    runtime: Runtime,
    folder: Path,
    sample: int = 0,
) -> SmokeReport:
    """Boot `files` on a fresh database of `server`, run the task's smoke check, stop.
    The app's log goes to `folder`/app.log. InfrastructureError when the harness's own
    parts fail (the database server)."""
    plan = task.smoke_plan
    folder.mkdir(parents=True, exist_ok=True)
    run = CandidateRun(
        task=task,
        files=files,
        files_dir=folder,
        sample=sample,
        server=server,
        artifacts_dir=folder,
        runtime=runtime,
    )
    jwt_secret = secrets.token_urlsafe(32) if task.spec.needs_jwt_secret else None
    live = LiveSample(run, jwt_secret, APP_LOG)
    try:
        boot = live.open()
        if boot.infra_error is not None:
            raise InfrastructureError(boot.infra_error)
        steps: list[StepOutcome] = []
        if boot.ok:
            assert live.app is not None
            steps = run_steps(live.app.base_url, plan.steps)
    finally:
        live.close()
    return SmokeReport(
        booted=boot.ok,
        boot_error=boot.error,
        log_tail=_log_tail(folder / APP_LOG),
        steps=steps,
    )
