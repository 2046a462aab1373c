"""Grade one candidate (a set of files) on one database: fresh database, boot the app,
run every grader, tear down. Infrastructure failures become `infra_error`, never a
score against the model."""

from __future__ import annotations

import secrets
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from harness.core.errors import HarnessError, InfrastructureError
from harness.core.failpoints import failpoint
from harness.core.files import APP_LOG, COVERAGE_FILE, PROBED_APP_LOG, RESULT_FILE, grade_file
from harness.core.records import BootRecord, Finding, GradeResult, SampleResult
from harness.core.settings import STARTUP_TIMEOUT_S
from harness.core.store import write_json_atomic
from harness.core.tasks import Task
from harness.graders.base import GradingContext
from harness.graders.contract import ContractCoverage, measure_coverage
from harness.graders.probes.client import ProbeClient
from harness.graders.registry import (
    default_grader_order,
    fresh_app_graders,
    grader_version,
    proof_grader_order,
    registered_graders,
)
from harness.grading.scoring import correct_and_secure, overall_score
from harness.sandbox.databases import DatabaseServer, SampleDatabase, server_alive
from harness.sandbox.readiness import BootOutcome
from harness.sandbox.runtime import CandidateApp, Runtime

# Every registered grader, in its declared order (harness/graders/registry.py). The
# hidden tests run first, on the app as it started: their outcome must not depend on
# what the fuzzer's and the probes' traffic did to the process or its database.
DEFAULT_GRADERS = default_grader_order()
# What proves a task (selftest, task proofs): the hidden tests decide a mutant.
PROOF_GRADERS = proof_grader_order()
# Grades of a run's candidate: each infra failure retried, up to this many attempts.
INFRA_ATTEMPTS = 3
# Requests the coverage measurement may send (one per contract operation, and the doc).
COVERAGE_REQUESTS = 40


@dataclass(frozen=True)
class CandidateRun:
    """Where and how one candidate is graded."""

    task: Task
    files: dict[str, str]
    files_dir: Path
    sample: int
    server: DatabaseServer
    artifacts_dir: Path
    runtime: Runtime  # where the app boots: a backend's runtime
    graders: tuple[str, ...] = DEFAULT_GRADERS
    startup_timeout_s: float = STARTUP_TIMEOUT_S
    response_text: str | None = None
    only_hidden_tests: tuple[str, ...] | None = None  # None: every hidden test


class ServerSupply(Protocol):
    """Where a run's grades take their database servers (the run's `ServerPool`)."""

    def get(self, kind: str) -> DatabaseServer: ...

    def recover(self, kind: str, failed: DatabaseServer) -> bool: ...


def grade_candidate(
    run: CandidateRun, attempts: int = 2, servers: ServerSupply | None = None
) -> SampleResult:
    """Grade, retrying when the infrastructure (not the candidate) failed: the harness's
    one retry layer.

    With `servers` (a run's pool), an app whose server died under it is an infra error
    (its failures are not the model's), a failed attempt's server is recovered (a dead
    one replaced), and the next attempt takes its server from `servers` again."""
    kind = run.server.kind
    result = infra_row(run.task, run.sample, kind, "not graded")
    for attempt in range(attempts):
        if attempt and servers is not None:
            run = replace(run, server=servers.get(kind))
        result = _grade_once(run)
        if servers is not None and result.infra_error is None and not server_alive(run.server):
            result = infra_row(run.task, run.sample, kind, f"the {kind} server died during grading")
        if result.infra_error is None:
            break
        if servers is not None:
            servers.recover(kind, run.server)
    write_json_atomic(run.artifacts_dir / RESULT_FILE, result.model_dump(mode="json"))
    return result


def grade_files(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    runtime: Runtime,
    folder: Path,
    graders: tuple[str, ...] = PROOF_GRADERS,
    *,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    only_hidden_tests: tuple[str, ...] | None = None,
    response_text: str | None = None,
) -> SampleResult:
    """Grade a set of files outside a run (selftest, benchmarks, tests): sample 0, files
    and artifacts in `folder`, booted in `runtime` (a backend's)."""
    return grade_candidate(
        CandidateRun(
            task=task,
            files=files,
            files_dir=folder,
            sample=0,
            server=server,
            artifacts_dir=folder,
            runtime=runtime,
            graders=graders,
            startup_timeout_s=startup_timeout_s,
            only_hidden_tests=only_hidden_tests,
            response_text=response_text,
        )
    )


def infra_row(
    task: Task, sample: int, kind: str, message: str, timings: dict[str, float] | None = None
) -> SampleResult:
    """The row of a candidate the harness could not grade (its failure, never the
    model's): no score, and retried on resume."""
    return SampleResult(
        task=task.id,
        sample=sample,
        database=kind,
        boot=BootRecord(ok=False, seconds=0.0, error=None),
        scores={},
        findings=[],
        infra_error=message,
        timings=timings or {},
        task_version=task.spec.version,
    )


class LiveSample:
    """A fresh sample database and the candidate app booted on it; `close` stops the app
    and drops the database."""

    def __init__(self, run: CandidateRun, jwt_secret: str | None, log_name: str) -> None:
        self.run = run
        self.jwt_secret = jwt_secret
        self.log_name = log_name
        self.database: SampleDatabase | None = None
        self.app: CandidateApp | None = None

    def open(self) -> BootOutcome:
        """Create the database (InfrastructureError if the server fails) and boot."""
        run = self.run
        self.database = run.server.create_sample_database(f"{run.task.id}_{run.sample}")
        self.app = run.runtime.make_app(
            run.files, self.database, run.artifacts_dir / self.log_name, self.jwt_secret
        )
        return _boot(self.app, run)

    def context(
        self, boot: BootOutcome, coverage: ContractCoverage | None = None
    ) -> GradingContext:
        run, database, app = self.run, self.database, self.app
        assert database is not None and app is not None
        return GradingContext(
            task=run.task,
            files=run.files,
            files_dir=run.files_dir,
            artifacts_dir=run.artifacts_dir,
            database_kind=database.kind,
            database_url=database.sync_url,
            database_user=database.user,
            admin_database_url=run.server.admin_url.render_as_string(hide_password=False),
            base_url=app.base_url if boot.ok else None,
            booted=boot.ok,
            boot_error=boot.error,
            jwt_secret=self.jwt_secret,
            response_text=run.response_text,
            only_hidden_tests=run.only_hidden_tests,
            sandbox_hosts=app.sandbox_hosts,
            coverage=coverage,
        )

    def close(self) -> None:
        if self.app is not None:
            self.app.stop()
            self.app = None
        if self.database is not None:
            try:
                self.run.server.drop_sample_database(self.database)
            except InfrastructureError:
                pass
            self.database = None


def _grade_once(run: CandidateRun) -> SampleResult:
    timings: dict[str, float] = {}
    started = time.monotonic()
    jwt_secret = secrets.token_urlsafe(32) if run.task.spec.needs_jwt_secret else None
    sample = LiveSample(run, jwt_secret, APP_LOG)
    try:
        boot = sample.open()
        failpoint("after-boot")
        timings["boot"] = round(boot.seconds, 3)
        if boot.infra_error is not None:
            return infra_row(run.task, run.sample, run.server.kind, boot.infra_error, timings)
        assert sample.app is not None
        sandboxed = sample.app.sandboxed
        context = sample.context(boot)
        coverage: ContractCoverage | None = None
        rebooted = False
        grades: list[GradeResult] = []
        for name in run.graders:
            if name in fresh_app_graders() and coverage is None:
                # Measured after the hidden tests (its plain requests must not meet them),
                # before the graders that score per operation.
                coverage = _coverage_of(run, sample, boot)
            if name in fresh_app_graders() and boot.ok and not rebooted:
                # The probing graders start from a fresh app and database: what they
                # find must not depend on what the hidden tests left behind.
                rebooted = True
                sample.close()
                sample = LiveSample(run, jwt_secret, PROBED_APP_LOG)
                fresh = sample.open()
                timings["reboot"] = round(fresh.seconds, 3)
                if fresh.infra_error is not None:
                    return infra_row(
                        run.task, run.sample, run.server.kind, fresh.infra_error, timings
                    )
                if not fresh.ok:
                    fresh = replace(
                        fresh, error=f"the app did not boot again for {name}: {fresh.error}"
                    )
                context = sample.context(fresh, coverage)
            assert sample.database is not None
            grades.append(_run_grader(run, name, context, timings, sample.database))
        if coverage is None:
            coverage = _coverage_of(run, sample, boot)
    except InfrastructureError as exc:
        return infra_row(run.task, run.sample, run.server.kind, str(exc), timings)
    except HarnessError:
        raise  # a configuration error (a malformed plan or task file): the run stops
    except Exception:
        # The harness's own code failed (not a grader's verdict on the app): retried.
        return infra_row(
            run.task,
            run.sample,
            run.server.kind,
            "harness error:\n" + traceback.format_exc(limit=8),
            timings,
        )
    finally:
        sample.close()
    timings["total"] = round(time.monotonic() - started, 3)
    scores = {grade.grader: round(grade.score, 4) for grade in grades}
    scores["overall"] = overall_score(scores, coverage.ratio)
    by_name = {grade.grader: grade for grade in grades}
    findings = [f for grade in grades for f in grade.findings]
    return SampleResult(
        task=run.task.id,
        sample=run.sample,
        database=run.server.kind,
        boot=BootRecord(ok=boot.ok, seconds=round(boot.seconds, 3), error=boot.error),
        scores=scores,
        findings=findings,
        correct_and_secure=correct_and_secure(scores, findings),
        timings=timings,
        task_version=run.task.spec.version,
        hidden_tests=_hidden_test_summary(by_name.get("functional")),
        robustness_tests=_hidden_test_summary(by_name.get("robustness")),
        coverage=round(coverage.ratio, 4),
        sandboxed=sandboxed,
        database_engine=_engine_label(run.server),
    )


def _boot(app: CandidateApp, run: CandidateRun) -> BootOutcome:
    if not run.files:
        return BootOutcome(ok=False, seconds=0.0, error="the response contained no code files")
    if "main.py" not in run.files:
        names = ", ".join(sorted(run.files))
        return BootOutcome(ok=False, seconds=0.0, error=f"no main.py among the files ({names})")
    return app.start(run.startup_timeout_s)


def _coverage_of(run: CandidateRun, sample: LiveSample, boot: BootOutcome) -> ContractCoverage:
    """The app's contract coverage, measured on the sample's current app, and stored."""
    assert sample.app is not None
    coverage = _measure_coverage(run.task, sample.app, boot.ok)
    write_json_atomic(run.artifacts_dir / COVERAGE_FILE, coverage.as_details())
    return coverage


def _measure_coverage(task: Task, app: CandidateApp, booted: bool) -> ContractCoverage:
    operations = task.contract_operations()
    if not booted:
        return ContractCoverage.none(operations, "the app did not boot")
    with ProbeClient(
        app.base_url,
        max_requests=COVERAGE_REQUESTS,
        budget_s=30,
        sandbox_hosts=app.sandbox_hosts,
    ) as client:
        coverage = measure_coverage(client, operations)
    return coverage


def grader_versions(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, version) of each grader, part of every grade's cache key."""
    return [(name, grader_version(name)) for name in names]


def _engine_label(server: DatabaseServer) -> str | None:
    try:
        return server.engine_label()
    except InfrastructureError:
        return None


def _grader_failed(
    run: CandidateRun, database: SampleDatabase, name: str, error: Exception
) -> GradeResult:
    """A grader raised. Infrastructure only if the harness's own resources are broken:
    the admin connection must work and must be able to give the sample's user its
    password back (an app may have changed it); else (InfrastructureError) the row is
    retried. Otherwise the failure came from the app (it answered or stored something
    the grader could not read): the grader scores 0 and says why."""
    try:
        run.server.reset_sample_user(database)
    except InfrastructureError as broken:
        raise InfrastructureError(
            f"{broken} (checked after the {name} grader failed: "
            f"{error.__class__.__name__}: {error})"
        ) from error
    trace = "".join(traceback.format_exception(error, limit=6))
    return GradeResult(
        grader=name,
        score=0.0,
        findings=[
            Finding(
                grader=name,
                check="grader-error",
                severity="high",
                message=f"the {name} grader could not grade this app: "
                f"{error.__class__.__name__}: {str(error)[:300]}",
                evidence=trace[-2000:],
            )
        ],
        details={"error": f"{error.__class__.__name__}: {error}"},
    )


def _run_grader(
    run: CandidateRun,
    name: str,
    context: GradingContext,
    timings: dict[str, float],
    database: SampleDatabase,
) -> GradeResult:
    grader = registered_graders()[name]
    began = time.monotonic()
    if grader.needs_live_app and not context.booted:
        grade = GradeResult(
            grader=name,
            score=0.0,
            findings=[
                Finding(
                    grader=name,
                    check="not-run",
                    # A probing grader that could not run found nothing: the row cannot
                    # count as secure (a high finding), whatever the hidden tests said.
                    severity="high" if grader.fresh_app else "info",
                    message="not run: the app did not boot",
                    evidence=context.boot_error or "",
                )
            ],
        )
    else:
        try:
            grade = grader.grade(context)
        except HarnessError as exc:
            if not isinstance(exc, InfrastructureError):
                raise  # a configuration error (a malformed plan): the run stops
            grade = _grader_failed(run, database, name, exc)
        except Exception as exc:  # the app's doing unless the harness is broken
            grade = _grader_failed(run, database, name, exc)
    grade.seconds = round(time.monotonic() - began, 3)
    timings[name] = round(timings.get(name, 0.0) + grade.seconds, 3)
    write_json_atomic(run.artifacts_dir / grade_file(name), grade.model_dump(mode="json"))
    failpoint("mid-grading")
    return grade


def _hidden_test_summary(functional: GradeResult | None) -> dict[str, object]:
    if functional is None or "tests" not in functional.details:
        return {}
    return {
        "passed": functional.details["passed"],
        "total": functional.details["total"],
        "failed": [t["name"] for t in functional.details["tests"] if t["outcome"] != "passed"],
    }
