"""The corpus of realistic agent answers (tests/corpus/<task>/<version>-<writer>.md) and
their reviewed expectations (the .yaml beside each): grading, and the failure keys an
expectation lists.

A failure key is `<grader>:<check>` plus `@<subject>` where a check has many subjects
(a fuzz operation, a schema column): one per non-info finding. Each expected failure
names the defect in the answer that causes it, with the file and line.

    .venv/bin/python -m tests.support.corpus [TASK ...]          # grade, print what fails
    .venv/bin/python -m tests.support.corpus --check [TASK ...]  # ... and compare with the
                                                                 # expectations
    CORPUS_ARTIFACTS=<folder> keeps every grade's artifacts (app.log, test reports, grades).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.core.extract import extract_files
from harness.core.records import SampleResult
from harness.core.tasks import Task, load_task
from harness.grading.pipeline import DEFAULT_GRADERS, grade_files
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
KINDS = ("postgres", "mysql")
# `file.py:12` (or `pkg/file.py:12-14`): where the defect is.
_WHERE = re.compile(r"[\w./-]+\.py:\d+")


class ExpectedFailure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z]+:[^\s@]+(@.+)?$")
    databases: tuple[str, ...] = KINDS
    defect: str = Field(min_length=10)

    @field_validator("defect")
    @classmethod
    def names_a_place(cls, value: str) -> str:
        if not _WHERE.search(value):
            raise ValueError("the defect must name its file and line (models.py:12)")
        return value

    @field_validator("databases")
    @classmethod
    def known_databases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown databases {sorted(unknown)}")
        return value


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    failures: tuple[ExpectedFailure, ...] = ()

    def keys(self, kind: str) -> set[str]:
        return {f.key for f in self.failures if kind in f.databases}


@dataclass(frozen=True)
class CorpusAnswer:
    task: str
    name: str  # <version>-<writer>, e.g. v1-a
    answer: Path

    @property
    def expectation_path(self) -> Path:
        return self.answer.with_suffix(".yaml")

    def expectation(self) -> Expectation:
        data = yaml.safe_load(self.expectation_path.read_text(encoding="utf-8"))
        return Expectation.model_validate(data)

    def files(self) -> dict[str, str]:
        return extract_files(self.answer.read_text(encoding="utf-8")).files

    def __str__(self) -> str:
        return f"{self.task}/{self.name}"


def corpus_answers(tasks: Sequence[str] = ()) -> list[CorpusAnswer]:
    return [
        CorpusAnswer(path.parent.name, path.stem, path)
        for path in sorted(CORPUS_DIR.glob("*/*.md"))
        if not tasks or path.parent.name in tasks
    ]


def failure_keys(result: SampleResult) -> dict[str, str]:
    """key -> what the finding said, for every non-info finding of a grade."""
    keys: dict[str, str] = {}
    for finding in result.findings:
        if finding.severity == "info":
            continue
        key = f"{finding.grader}:{finding.check}"
        if finding.subject:
            key += f"@{finding.subject}"
        keys.setdefault(key, f"{finding.message} | {finding.evidence[:300]}")
    return keys


def grade_answer(
    task: Task, answer: CorpusAnswer, server: DatabaseServer, runtime: Runtime, folder: Path
) -> SampleResult:
    return grade_files(
        task,
        answer.files(),
        server,
        runtime,
        folder,
        DEFAULT_GRADERS,
        response_text=answer.answer.read_text(encoding="utf-8"),
    )


def grade_corpus(
    answers: Iterable[CorpusAnswer],
    servers: dict[str, DatabaseServer],
    runtime: Runtime,
    root: Path,
    workers: int = 2,
) -> dict[tuple[str, str], SampleResult]:
    """(answer, kind) -> its grade, graded `workers` at a time."""
    cases = [(answer, kind) for answer in answers for kind in servers]

    def grade(case: tuple[CorpusAnswer, str]) -> SampleResult:
        answer, kind = case
        folder = root / answer.task / answer.name / kind
        folder.mkdir(parents=True, exist_ok=True)
        return grade_answer(load_task(answer.task), answer, servers[kind], runtime, folder)

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(grade, cases))
    return {
        (str(answer), kind): result for (answer, kind), result in zip(cases, results, strict=True)
    }


def _observed(results: dict[tuple[str, str], SampleResult]) -> Iterator[str]:
    by_answer: dict[str, dict[str, SampleResult]] = {}
    for (answer, kind), result in results.items():
        by_answer.setdefault(answer, {})[kind] = result
    for answer, kinds in sorted(by_answer.items()):
        yield f"== {answer}"
        for kind, result in sorted(kinds.items()):
            scores = " ".join(f"{k}={v}" for k, v in result.scores.items())
            yield f"  {kind}: {scores} coverage={result.coverage} infra={result.infra_error}"
        keys: dict[str, dict[str, str]] = {}
        for kind, result in kinds.items():
            for key, said in failure_keys(result).items():
                keys.setdefault(key, {})[kind] = said
        for key, said in sorted(keys.items()):
            where = ",".join(sorted(said))
            first = next(iter(said.values()))
            yield f"  - {key} [{where}] {first[:400]}"


def mismatches(answer: CorpusAnswer, kind: str, result: SampleResult) -> list[str]:
    """How a grade differs from the answer's expectation (empty when it matches)."""
    if result.infra_error:
        return [f"infra error: {result.infra_error.splitlines()[0]}"]
    observed = failure_keys(result)
    expected = answer.expectation().keys(kind)
    return [
        f"unexplained {key}: {said[:300]}"
        for key, said in sorted(observed.items())
        if key not in expected
    ] + [f"expected but not seen {key}" for key in sorted(expected - set(observed))]


def main(argv: Sequence[str]) -> int:
    from harness.sandbox.local.runtime import LocalRuntime
    from harness.sandbox.local.runtime_venv import ensure_runtime_venv
    from harness.sandbox.servers import database_servers

    check = "--check" in argv
    tasks = [arg for arg in argv if arg != "--check"]
    answers = corpus_answers(tasks)
    runtime = LocalRuntime(ensure_runtime_venv())
    keep = os.environ.get("CORPUS_ARTIFACTS")  # a folder to keep every grade's artifacts in
    with database_servers(KINDS) as servers, tempfile.TemporaryDirectory() as scratch:
        results = grade_corpus(answers, servers, runtime, Path(keep or scratch))
    for line in _observed(results):
        print(line, flush=True)
    if not check:
        return 0
    bad = 0
    for answer in answers:
        for kind in KINDS:
            for problem in mismatches(answer, kind, results[(str(answer), kind)]):
                bad += 1
                print(f"MISMATCH {answer} {kind}: {problem}")
    print(f"{bad} mismatch(es)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
