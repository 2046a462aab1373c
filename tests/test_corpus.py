"""The corpus of realistic agent answers, held to its reviewed expectations: graded on
both databases with every grader, each answer fails exactly the checks its expectation
lists, each explained by a defect in the answer (file and line). A failure that no
defect explains is a grader bug, fixed in the grader, never in the expectation."""

from __future__ import annotations

import pytest

from harness.core.records import SampleResult
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.corpus import KINDS, CorpusAnswer, corpus_answers, grade_corpus, mismatches

# The module fixture grades 16 answers x 2 databases with every grader (about 10 minutes
# on two cores); its setup counts against the first test, so the limit is the fixture's.
pytestmark = pytest.mark.timeout(1800)

ANSWERS = corpus_answers()
TASKS = sorted({answer.task for answer in ANSWERS})
PROMPT_VERSIONS = ("v1", "v2")


def test_the_corpus_covers_every_task_and_prompt_twice() -> None:
    names = {(answer.task, answer.name) for answer in ANSWERS}
    for task in TASKS:
        for version in PROMPT_VERSIONS:
            writers = {
                name.split("-", 1)[1] for t, name in names if t == task and name.startswith(version)
            }
            assert len(writers) >= 2, f"{task} {version}: {sorted(writers)}"
    assert len(ANSWERS) >= 16


@pytest.mark.parametrize("answer", ANSWERS, ids=str)
def test_every_answer_has_a_valid_expectation(answer: CorpusAnswer) -> None:
    expectation = answer.expectation()
    assert expectation.prompt == f"fastapi-backend-engineer@{answer.name.split('-')[0]}"
    keys = [failure.key for failure in expectation.failures]
    assert len(keys) == len(set(keys)), "a failure key is listed twice"


@pytest.fixture(scope="module")
def corpus_grades(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], SampleResult]:
    return grade_corpus(ANSWERS, servers, local_runtime, tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("answer", ANSWERS, ids=str)
def test_answer_fails_exactly_what_its_expectation_explains(
    corpus_grades: dict[tuple[str, str], SampleResult], answer: CorpusAnswer, kind: str
) -> None:
    """No failure a reviewed defect does not explain (a grader bug), and no expected
    failure that did not happen (a stale expectation)."""
    result = corpus_grades[(str(answer), kind)]
    assert not mismatches(answer, kind, result)
