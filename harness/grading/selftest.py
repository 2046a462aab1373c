"""`harness selftest`: prove the graders on the tasks themselves. Every reference must
pass everything; every mutant must fail at least the hidden tests it names; every null
agent (an app that does nothing, `harness/null_agents.py`) must score about 0."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.records import SampleResult
from harness.core.tasks import Task, load_tasks
from harness.grading.null_agents import MAX_OVERALL, NULL_AGENTS, null_agent_files
from harness.grading.pipeline import DEFAULT_GRADERS, PROOF_GRADERS, grade_files
from harness.sandbox.backend import Backend, open_backend
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from harness.sandbox.servers import database_servers

REFERENCE = "reference"
NULL_PREFIX = "null:"
# Graders on which a null agent must score exactly 0.
NULL_ZERO_GRADERS = ("functional", "robustness", "fuzz", "security", "schema")


@dataclass(frozen=True)
class SelftestCell:
    """One task variant (the reference or a mutant) on one database."""

    task: str
    variant: str
    database: str
    ok: bool
    summary: str


def _grade(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    runtime: Runtime,
    only_hidden_tests: tuple[str, ...] | None = None,
    graders: tuple[str, ...] = PROOF_GRADERS,
) -> SampleResult:
    with tempfile.TemporaryDirectory(prefix="harness-selftest-") as folder:
        return grade_files(
            task, files, server, runtime, Path(folder), graders, only_hidden_tests=only_hidden_tests
        )


def null_agent_problems(result: SampleResult) -> list[str]:
    """Why a null agent's grade is not about 0 (empty when it is)."""
    if result.infra_error:
        return [f"infra error: {result.infra_error.splitlines()[0]}"]
    problems = [
        f"{name} {result.scores.get(name)}"
        for name in NULL_ZERO_GRADERS
        if result.scores.get(name) != 0.0
    ]
    passed = result.hidden_tests.get("passed", 0) + result.robustness_tests.get("passed", 0)
    if passed:
        problems.append(f"{passed} hidden test(s) passed")
    if result.scores.get("overall", 1.0) > MAX_OVERALL:
        problems.append(f"overall {result.scores.get('overall')} > {MAX_OVERALL}")
    return problems


def _judge_null_agent(task: Task, name: str, result: SampleResult) -> SelftestCell:
    problems = null_agent_problems(result)
    summary = (
        f"scores 0 (overall {result.scores.get('overall')})"
        if not problems
        else "SCORES: " + "; ".join(problems)
    )
    return SelftestCell(task.id, NULL_PREFIX + name, result.database, not problems, summary)


def failed_hidden_tests(result: SampleResult) -> set[str]:
    """Hidden tests that failed, functional and robustness alike."""
    return set(result.hidden_tests.get("failed", [])) | set(
        result.robustness_tests.get("failed", [])
    )


def _judge_reference(task: Task, result: SampleResult) -> SelftestCell:
    failed = [f.check for f in result.findings if f.severity != "info"]
    ok = result.infra_error is None and not failed and result.scores.get("overall") == 1.0
    if result.infra_error:
        summary = f"INFRA {result.infra_error.splitlines()[0]}"
    elif ok:
        summary = f"ok {result.hidden_tests.get('passed')}/{result.hidden_tests.get('total')}"
    else:
        summary = "FAILS " + ",".join(failed)
    return SelftestCell(task.id, REFERENCE, result.database, ok, summary)


def _judge_mutant(task: Task, name: str, result: SampleResult) -> SelftestCell:
    mutant = task.mutant(name)
    failed = failed_hidden_tests(result)
    missed = sorted(set(mutant.must_fail) - failed)
    ok = result.infra_error is None and not missed
    if result.infra_error:
        summary = f"INFRA {result.infra_error.splitlines()[0]}"
    elif ok:
        names = ", ".join(sorted(failed)[:3]) + ("..." if len(failed) > 3 else "")
        summary = f"caught by {len(failed)} ({names})"
    else:
        summary = "UNCAUGHT: passed " + ", ".join(missed)
    return SelftestCell(task.id, name, result.database, ok, summary)


def run_selftest(
    tasks: Sequence[Task],
    databases: Sequence[str],
    mutant_filter: str | None,
    backend: Backend,
) -> list[SelftestCell]:
    runtime = backend.runtime
    cells: list[SelftestCell] = []
    with database_servers(databases, backend) as servers:
        for task in tasks:
            variants = [REFERENCE] + [
                m.name for m in task.mutants if not mutant_filter or mutant_filter in m.name
            ]
            if not mutant_filter:
                variants += [NULL_PREFIX + name for name in NULL_AGENTS]
            for variant in variants:
                for server in servers.values():
                    if variant == REFERENCE:
                        cell = _judge_reference(
                            task, _grade(task, task.reference_files(), server, runtime)
                        )
                    elif variant.startswith(NULL_PREFIX):
                        name = variant.removeprefix(NULL_PREFIX)
                        result = _grade(
                            task, null_agent_files(name), server, runtime, graders=DEFAULT_GRADERS
                        )
                        cell = _judge_null_agent(task, name, result)
                    else:
                        # A mutant is proven by the tests it names: run just those.
                        mutant = task.mutant(variant)
                        result = _grade(
                            task,
                            task.mutant_files(mutant),
                            server,
                            runtime,
                            tuple(mutant.must_fail),
                        )
                        cell = _judge_mutant(task, variant, result)
                    cells.append(cell)
                    mark = "ok  " if cell.ok else "FAIL"
                    print(
                        f"{mark} {cell.task:18s} {cell.variant:30s} {cell.database:8s} "
                        + cell.summary,
                        file=sys.stderr,
                        flush=True,
                    )
    return cells


def print_matrix(cells: Sequence[SelftestCell], databases: Sequence[str]) -> None:
    print(f"{'task':18s} {'variant':30s} " + " ".join(f"{db:40s}" for db in databases))
    rows: dict[tuple[str, str], dict[str, SelftestCell]] = {}
    for cell in cells:
        rows.setdefault((cell.task, cell.variant), {})[cell.database] = cell
    for (task, variant), by_db in rows.items():
        columns = " ".join(
            f"{by_db[db].summary[:40]:40s}" if db in by_db else f"{'-':40s}" for db in databases
        )
        print(f"{task:18s} {variant:30s} {columns}")
    bad = [c for c in cells if not c.ok]
    print(f"\n{len(cells) - len(bad)}/{len(cells)} cells as expected")
    for cell in bad:
        print(f"NOT AS EXPECTED {cell.task}/{cell.variant}/{cell.database}: {cell.summary}")


def selftest_main(
    task_selection: str | None,
    databases: Sequence[str],
    mutant_filter: str | None,
    runtime: str = "local",
) -> int:
    """The selftest matrix in the backend `runtime` (a name, or `auto`)."""
    tasks = load_tasks(task_selection)
    with open_backend(runtime) as backend:
        cells = run_selftest(tasks, databases, mutant_filter, backend)
    print_matrix(cells, databases)
    return 0 if all(cell.ok for cell in cells) else 1
