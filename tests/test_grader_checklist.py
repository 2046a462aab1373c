"""The checklist grader: references pass every check that applies to them, each fixture
response fails exactly the checks it was written to fail, and grading is deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import harness.graders.checklist  # noqa: F401  (registers the grader until harness/graders/__init__ imports it)
from harness.core.extract import extract_files, render_files_as_response
from harness.core.settings import TASKS_DIR
from harness.core.tasks import Task, TaskSpec, read_python_tree
from harness.graders.base import GradingContext
from harness.graders.checklist import CHECKLIST, SEVERITY_WEIGHTS, ChecklistGrader, run_checklist
from harness.graders.static_checks.credentials import url_problem
from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.output_format import prose_outside_code
from harness.graders.static_checks.source import Candidate
from harness.grading.pipeline import CandidateRun, grade_candidate
from harness.providers.base import ModelResponse
from harness.run.generation import graded_text
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime

FIXTURES = Path(__file__).parent / "fixtures" / "graders" / "checklist"
EXPECTED: dict[str, list[str]] = yaml.safe_load((FIXTURES / "expected.yaml").read_text())
REFERENCES = sorted(p.parent.parent.name for p in TASKS_DIR.glob("*/reference/main.py"))
CHECKS = {item.check for item in CHECKLIST}


def _task(task_id: str = "user-crud") -> Task:
    spec = TaskSpec(
        id=task_id,
        title=task_id,
        version=1,
        request="request.md",
        contract="contract.md",
        expected_tables=["x"],
    )
    return Task(TASKS_DIR / task_id, spec)


def _context(files: dict[str, str], folder: Path, response: str | None) -> GradingContext:
    """A sample as a run stores it (files/ with response.md beside it), graded with the
    answer text the run passes (None for a workspace agent, as `graded_text` says)."""
    files_dir = folder / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    if response is not None:
        (folder / "response.md").write_text(response)
    return GradingContext(
        task=_task(),
        files=files,
        files_dir=files_dir,
        artifacts_dir=folder,
        database_kind="postgres",
        database_url="",
        database_user="",
        admin_database_url="",
        base_url=None,
        booted=False,
        boot_error=None,
        jwt_secret=None,
        response_text=response,
    )


def _fixture(name: str) -> tuple[dict[str, str], str]:
    response = (FIXTURES / name).read_text()
    return extract_files(response).files, response


def _statuses(files: dict[str, str], response: str | None) -> dict[str, str]:
    return {item.check: o.status for item, o in run_checklist(Candidate(files, response))}


def _reference(task_id: str) -> tuple[dict[str, str], str]:
    files = read_python_tree(TASKS_DIR / task_id / "reference")
    return files, render_files_as_response(files)


def test_user_crud_reference_passes_every_check_that_applies(tmp_path: Path) -> None:
    files, response = _reference("user-crud")
    grade = ChecklistGrader().grade(_context(files, tmp_path, response))
    assert grade.findings == []
    assert grade.score == 1.0
    assert grade.details["response_source"] == "context"
    statuses = {c["check"]: c["status"] for c in grade.details["checks"]}
    assert set(statuses.values()) <= {"passed", "not-applicable"}


@pytest.mark.parametrize("task_id", REFERENCES)
def test_every_reference_scores_full_marks(task_id: str, tmp_path: Path) -> None:
    """A reference is held to the whole checklist: no finding above info."""
    files, response = _reference(task_id)
    grade = ChecklistGrader().grade(_context(files, tmp_path, response))
    assert [f for f in grade.findings if f.severity != "info"] == []
    assert grade.score == 1.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fails_exactly_its_planted_checks(name: str) -> None:
    files, response = _fixture(name)
    statuses = _statuses(files, response)
    assert {check for check, status in statuses.items() if status == "failed"} == set(
        EXPECTED[name]
    )
    assert "skipped" not in statuses.values()


def test_fixtures_trip_every_check_and_some_clean_code_passes_each() -> None:
    assert set().union(*EXPECTED.values()) == CHECKS
    passed: set[str] = set()
    for files, response in [_reference("user-crud"), _fixture("async-careful.md")]:
        passed |= {c for c, status in _statuses(files, response).items() if status == "passed"}
    assert passed == CHECKS


def test_findings_cite_file_and_line(tmp_path: Path) -> None:
    files, response = _fixture("sloppy-sync.md")
    grade = ChecklistGrader().grade(_context(files, tmp_path, response))
    by_check = {f.check: f for f in grade.findings}
    assert by_check["select-not-query"].evidence.startswith("main.py:")
    assert "db.query()" in by_check["select-not-query"].evidence
    assert "s3cr3t" not in by_check["no-hardcoded-database-url"].evidence
    assert "hashlib.md5" in by_check["password-hashing"].evidence
    assert by_check["code-only-response"].evidence.startswith("response.md:1 text outside code")
    assert "bash fence" in by_check["code-only-response"].evidence
    assert by_check["password-hashing"].severity == "high"
    assert by_check["select-not-query"].severity == "low"


def test_score_is_the_severity_weighted_share_of_applicable_checks(tmp_path: Path) -> None:
    files, response = _fixture("async-careless.md")
    grade = ChecklistGrader().grade(_context(files, tmp_path, response))
    weights = {item.check: SEVERITY_WEIGHTS.get(item.severity, 0.0) for item in CHECKLIST}
    applicable = [c for c in grade.details["checks"] if c["status"] in ("passed", "failed")]
    # Informational checks are reported and weigh nothing.
    assert {item.check for item in CHECKLIST if item.severity == "info"} == {
        "no-comments",
        "no-docstrings",
    }
    passed = sum(weights[c["check"]] for c in applicable if c["status"] == "passed")
    assert grade.score == pytest.approx(passed / sum(weights[c["check"]] for c in applicable))
    assert 0.0 < grade.score < 1.0


def test_without_answer_text_the_format_check_does_not_apply(tmp_path: Path) -> None:
    files, _ = _reference("user-crud")
    grade = ChecklistGrader().grade(_context(files, tmp_path, None))
    assert grade.score == 1.0
    assert grade.findings == []
    assert grade.details["response_source"] == "none"
    statuses = {c["check"]: c["status"] for c in grade.details["checks"]}
    assert statuses["code-only-response"] == "not-applicable"


def test_a_workspace_agents_stdout_is_not_graded_as_the_answers_format(tmp_path: Path) -> None:
    """A `command:` agent wrote its files; its stdout is stored as response.md. The grade's
    cache key says there was no answer text (`graded_text` is None), and so does the
    checklist: the chatty stdout beside the files is not held to the output format."""
    files, _ = _reference("user-crud")
    stdout = "Sure! I wrote the app.\n\nRun it with `uvicorn main:app`.\n"
    response = ModelResponse(text=stdout, model="command:my-agent", files=files)
    assert graded_text(response) is None
    context = _context(files, tmp_path, graded_text(response))
    (tmp_path / "response.md").write_text(stdout)
    grade = ChecklistGrader().grade(context)
    assert grade.findings == [] and grade.score == 1.0
    assert grade.details["response_source"] == "none"
    statuses = {c["check"]: c["status"] for c in grade.details["checks"]}
    assert statuses["code-only-response"] == "not-applicable"
    # The same text given as an answer is held to the format.
    answered = ChecklistGrader().grade(_context(files, tmp_path / "text", stdout))
    assert "code-only-response" in {f.check for f in answered.findings}


def test_the_path_header_is_not_a_comment_and_noqa_does_not_silence_ruff(
    tmp_path: Path,
) -> None:
    files = {
        "main.py": "# main.py\n# the app\nimport os  # noqa: F401\nfrom fastapi import FastAPI\n\n"
        "app = FastAPI()\n",
        "app/models.py": "# app/models.py\nX = 1\n",
    }
    grade = ChecklistGrader().grade(_context(files, tmp_path, None))
    by_check = {f.check: f for f in grade.findings}
    assert "main.py:2" in by_check["no-comments"].evidence
    assert ":1 " not in by_check["no-comments"].evidence
    assert by_check["no-comments"].severity == "info"
    assert "F401" in by_check["ruff-pyflakes"].evidence


def test_an_answer_without_code_scores_zero(tmp_path: Path) -> None:
    response = (Path(__file__).parent / "fixtures" / "responses" / "prose-only.md").read_text()
    grade = ChecklistGrader().grade(_context({}, tmp_path, response))
    assert grade.score == 0.0
    assert [(f.check, f.severity) for f in grade.findings] == [("python-parses", "high")]


def test_grading_the_same_sample_five_times_gives_identical_results(tmp_path: Path) -> None:
    files, response = _fixture("sloppy-sync.md")
    grades = [
        ChecklistGrader()
        .grade(_context(files, tmp_path / str(n), response))
        .model_dump(exclude={"seconds"})
        for n in range(5)
    ]
    assert all(grade == grades[0] for grade in grades)


def test_undecidable_items_are_listed_with_reasons(tmp_path: Path) -> None:
    files, response = _reference("user-crud")
    details = ChecklistGrader().grade(_context(files, tmp_path, response)).details
    items = {entry["item"]: entry["reason"] for entry in details["undecidable"]}
    assert any("rate limiting" in item for item in items)
    assert any("Error handling covers common failure cases" in item for item in items)
    assert all(reason for reason in items.values())


@pytest.mark.parametrize(
    ("url", "concrete"),
    [
        ("postgresql+asyncpg://user:password@localhost/dbname", False),
        ("mysql+aiomysql://<user>:<password>@<host>:3306/<database>", False),
        ("postgresql+asyncpg://{user}:{}@{}/{}", False),
        ("postgresql+asyncpg://postgres:postgres@localhost:5432/app", True),
        ("postgresql+asyncpg://user:password@localhost/blog_db", True),
        ("mysql+aiomysql://user:password@db.internal.example.com/dbname", True),
        ("sqlite+aiosqlite:///./test.db", True),
    ],
)
def test_placeholder_database_urls_pass_and_concrete_ones_fail(url: str, concrete: bool) -> None:
    assert (url_problem(url) is not None) is concrete


def test_secrets_are_told_apart_from_messages_names_and_hashes() -> None:
    code = (
        "import os\n"
        'INVALID_PASSWORD = "Incorrect email or password"\n'
        'PASSWORD_PATTERN = "^[A-Za-z0-9]{8,}$"\n'
        'SECRET_ENV = "JWT_SECRET"\n'
        'DUMMY_PASSWORD_HASH = "$2b$12$abcdefghijklmnopqrstuv"\n'
        'JWT_SECRET = os.environ["JWT_SECRET"]\n'
        'SECRET_KEY = os.getenv("SECRET_KEY", "change-me-in-production")\n'
        'API_KEY = "sk-live-1234567890"\n'
    )
    candidate = Candidate({"config.py": code})
    outcome = next(
        item.run(candidate) for item in CHECKLIST if item.check == "no-hardcoded-secrets"
    )
    assert outcome.evidence == (
        "config.py:7 os.getenv('SECRET_KEY', <literal default secret>)",
        "config.py:8 API_KEY = a literal secret",
    )


def test_raw_code_answers_are_code_only_unless_prose_precedes_the_first_file() -> None:
    assert prose_outside_code("# main.py\nimport os\n\nprint(os.name)\n") == []
    assert prose_outside_code("Sure! Here you go:\n# main.py\nimport os\n") == [
        "response.md:1 text outside code: Sure! Here you go:"
    ]


def test_checklist_runs_in_a_real_grade_without_a_live_app(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path
) -> None:
    files, response = _fixture("sloppy-sync.md")
    (tmp_path / "files").mkdir()
    run = CandidateRun(
        task=_task(),
        files=files,
        files_dir=tmp_path / "files",
        sample=0,
        server=servers["postgres"],
        artifacts_dir=tmp_path,
        runtime=local_runtime,
        graders=("boot", "checklist"),
        startup_timeout_s=5.0,
        response_text=response,
    )
    result = grade_candidate(run)
    assert result.infra_error is None
    checklist = {f.check for f in result.findings if f.grader == "checklist"}
    assert checklist == set(EXPECTED["sloppy-sync.md"])
    assert 0.0 < result.scores["checklist"] < 1.0


def _atomic(source: str) -> Outcome:
    from harness.graders.static_checks.queries import atomic_writes
    from harness.graders.static_checks.source import Candidate

    return atomic_writes(Candidate({"services.py": source}, None))


def test_atomic_writes_is_not_fooled_by_an_imported_name_or_a_retry_loop() -> None:
    """Seen on the corpus: sqlalchemy's `delete(...)` taken for the candidate's own
    committing `delete` method, and a whole transaction retried in a loop taken for a
    commit per iteration."""
    several_deletes = (
        "from sqlalchemy import delete\n"
        "from sqlalchemy.ext.asyncio import async_sessionmaker\n"
        "SessionLocal = async_sessionmaker(engine)\n"
        "async def get_session():\n"
        "    async with SessionLocal() as session:\n"
        "        yield session\n"
        "class PostService:\n"
        "    async def delete(self, post_id):\n"
        "        await self.session.execute(delete(Comment).where(Comment.post_id == post_id))\n"
        "        await self.session.execute(delete(Post).where(Post.id == post_id))\n"
        "        await self.session.commit()\n"
    )
    assert _atomic(several_deletes).status == "passed"
    retried = (
        "from sqlalchemy.ext.asyncio import async_sessionmaker\n"
        "SessionLocal = async_sessionmaker(engine)\n"
        "async def get_session():\n"
        "    async with SessionLocal() as session:\n"
        "        yield session\n"
        "async def place(session, lines):\n"
        "    for line in lines:\n"
        "        session.add(line)\n"
        "    await session.commit()\n"
        "async def create(session, lines):\n"
        "    for attempt in range(3):\n"
        "        try:\n"
        "            await place(session, lines)\n"
        "        except Exception:\n"
        "            await session.rollback()\n"
        "            continue\n"
        "        return attempt\n"
    )
    assert _atomic(retried).status == "passed"


def test_atomic_writes_still_fails_a_commit_per_iteration() -> None:
    per_item = (
        "from sqlalchemy.ext.asyncio import async_sessionmaker\n"
        "SessionLocal = async_sessionmaker(engine)\n"
        "async def get_session():\n"
        "    async with SessionLocal() as session:\n"
        "        yield session\n"
        "async def restock(session, products):\n"
        "    for product in products:\n"
        "        session.add(product)\n"
        "        await session.commit()\n"
    )
    outcome = _atomic(per_item)
    assert outcome.status == "failed"
    assert "commits part-way" in outcome.evidence[0]
