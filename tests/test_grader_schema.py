"""The schema grader: every reference scores 1.0 on both databases, each flawed fixture
app fails exactly the checks it was built to fail, and grading is repeatable."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

import harness.graders.schema  # noqa: F401  (registers the grader until harness/graders/__init__ imports it)
from harness.core.errors import InputFileError
from harness.core.settings import TASKS_DIR
from harness.core.tasks import Task, TaskSpec, read_python_tree
from harness.graders.boot import BootGrader
from harness.graders.expectations import expectations_digest, expectations_paths, load_expectations
from harness.graders.schema import (
    CHECKS,
    ColumnInfo,
    IndexInfo,
    SchemaGrader,
    TableInfo,
    check_schema,
    match_entities,
    name_tokens,
    score_checks,
)
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

FIXTURES = Path(__file__).parent / "fixtures" / "graders" / "schema"
KINDS = ["postgres", "mysql"]
GRADERS = ("boot", "schema")
TASK_IDS = ["user-crud", "jwt-auth", "blog", "orders-inventory"]


# Every task with a reference so far (task.yaml may still be missing while a task is
# being written: the schema grader needs only the task's id).
REFERENCES = sorted(p.parent.parent.name for p in TASKS_DIR.glob("*/reference/main.py"))


def _fixture_task(task_id: str) -> Task:
    """A task carrying only what the schema grader reads (its id and its grading data), so
    the fixtures do not depend on the other tasks being complete."""
    spec = TaskSpec(
        id=task_id,
        title=task_id,
        version=1,
        request="request.md",
        contract="contract.md",
        needs_jwt_secret=True,
        contract_openapi=str(TASKS_DIR / task_id / "grading" / "openapi.yaml"),
    )
    return Task(TASKS_DIR / task_id, spec)


_grade = partial(grade_files, graders=GRADERS)


def _failed(details: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["check"], c["subject"]) for c in details["checks"] if not c["passed"]}


def _details(folder: Path) -> dict[str, Any]:
    grade = yaml.safe_load((folder / "grade-schema.json").read_text())
    assert isinstance(grade, dict)
    details = grade["details"]
    assert isinstance(details, dict)
    return details


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_every_task_has_valid_expectations(task_id: str) -> None:
    expectations = load_expectations(task_id)
    assert expectations.task == task_id


def test_expectations_files_name_known_tasks_only() -> None:
    assert sorted(p.parent.parent.name for p in expectations_paths()) == sorted(TASK_IDS)


def test_missing_or_malformed_expectations_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"no-such-task/grading/schema\.yaml"):
        load_expectations("no-such-task", tmp_path)
    shutil.copytree(TASKS_DIR / "user-crud", tmp_path / "user-crud")
    path = tmp_path / "user-crud/grading/schema.yaml"
    path.write_text("task: user-crud\nentities: [{name: user}]\n")
    with pytest.raises(InputFileError, match=r"grading/schema\.yaml: field 'entities\.0\.tables'"):
        load_expectations("user-crud", tmp_path)


def test_the_versions_fold_every_task_expectations(tmp_path: Path) -> None:
    assert SchemaGrader.cache_version().endswith(expectations_digest())
    assert BootGrader.cache_version().endswith(expectations_digest())
    shutil.copytree(TASKS_DIR, tmp_path / "tasks")
    before = expectations_digest(tmp_path / "tasks")
    assert before == expectations_digest()
    edited = tmp_path / "tasks/blog/grading/schema.yaml"
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert expectations_digest(tmp_path / "tasks") != before


def test_expectations_exercise_every_check() -> None:
    """With every reference at 1.0, each check is then passed by some reference."""
    used = {"primary-key", "table-present", "column-present", "not-null", "foreign-key"}
    for task_id in TASK_IDS:
        expectations = load_expectations(task_id)
        for entity in expectations.entities:
            used |= {"timestamps"} if entity.timestamps else set()
            for column in entity.columns:
                used |= {"unique"} if column.unique else set()
                used |= {"index"} if column.indexed else set()
                used |= {"money-type", "money-scale"} if column.money else set()
        used |= {"on-delete" for r in expectations.relations if r.on_delete}
    assert used == set(CHECKS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task_id", REFERENCES)
def test_reference_scores_full_marks(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    task_id: str,
    kind: str,
) -> None:
    task = _fixture_task(task_id)
    files = read_python_tree(task.reference_dir)
    result = _grade(task, files, servers[kind], local_runtime, tmp_path)
    assert result.infra_error is None
    assert result.boot.ok, result.boot
    schema_findings = [f for f in result.findings if f.grader == "schema"]
    assert result.scores["schema"] == 1.0, schema_findings
    details = _details(tmp_path)
    assert details["checked"] >= 10
    expectations = load_expectations(task_id)
    assert set(details["entities"]) >= {e.name for e in expectations.entities if e.required}
    assert details["schema"], "the inspected schema is kept for cross-database comparison"


FLAWED = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.yaml").is_file())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fixture", FLAWED)
def test_flawed_app_fails_exactly_its_planted_checks(
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    tmp_path: Path,
    fixture: str,
    kind: str,
) -> None:
    folder = FIXTURES / fixture
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    files = {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}
    task = _fixture_task(expected["task"])
    result = _grade(task, files, servers[kind], local_runtime, tmp_path)
    assert result.infra_error is None and result.boot.ok, result.boot
    details = _details(tmp_path)
    assert details["entities"] == expected["entities"]
    wanted = {tuple(pair) for pair in expected["fails"]}
    if kind == "postgres":
        wanted |= {tuple(pair) for pair in expected.get("postgres_only_fails", [])}
    assert _failed(details) == wanted
    findings = [f for f in result.findings if f.grader == "schema"]
    assert {(f.check, f.severity) for f in findings} == {
        (check, CHECKS[check][0]) for check, _ in wanted
    }
    assert all(f.evidence for f in findings)
    assert 0.0 < result.scores["schema"] < 1.0


def test_fixtures_trip_every_check() -> None:
    tripped = set()
    for fixture in FLAWED:
        expected = yaml.safe_load((FIXTURES / fixture / "expected.yaml").read_text())
        tripped |= {check for check, _ in expected["fails"]}
    assert tripped == set(CHECKS)


@pytest.mark.parametrize("kind", KINDS)
def test_grading_the_same_sample_five_times_gives_identical_results(
    servers: dict[str, DatabaseServer], local_runtime: Runtime, tmp_path: Path, kind: str
) -> None:
    folder = FIXTURES / "shop-flawed"
    files = {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}
    task = _fixture_task("orders-inventory")
    outcomes = []
    for attempt in range(5):
        where = tmp_path / str(attempt)
        where.mkdir()
        result = _grade(task, files, servers[kind], local_runtime, where)
        details = _details(where)
        outcomes.append(
            (result.scores["schema"], result.findings, details["checks"], details["schema"])
        )
    assert all(outcome == outcomes[0] for outcome in outcomes)


def _table(
    name: str,
    columns: list[str],
    *,
    key: tuple[str, ...] = ("id",),
    indexes: tuple[IndexInfo, ...] = (),
) -> TableInfo:
    return TableInfo(
        name=name,
        columns=tuple(ColumnInfo(c, "VARCHAR(255)", "string", False, None) for c in columns),
        primary_key=key,
        foreign_keys=(),
        indexes=indexes,
    )


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("users", ("user",)),
        ("app_users", ("app", "user")),
        ("OrderItems", ("order", "item")),
        ("categories", ("category",)),
        ("addresses", ("address",)),
        ("status", ("status",)),
    ],
)
def test_table_names_are_read_as_singular_words(name: str, tokens: tuple[str, ...]) -> None:
    assert name_tokens(name) == tokens


def test_entities_match_the_table_named_for_them_not_a_link_table() -> None:
    expectations = load_expectations("orders-inventory")
    tables = {
        t.name: t
        for t in (
            _table("order_products", ["order_id", "product_id", "quantity", "unit_price"]),
            _table("products", ["sku", "name", "price", "stock"]),
            _table("purchase_orders", ["customer_email", "status"]),
        )
    }
    assert {e: t.name for e, t in match_entities(expectations, tables).items()} == {
        "order": "purchase_orders",
        "order_item": "order_products",
        "product": "products",
    }


def test_a_unique_expression_index_on_lower_email_counts_as_unique() -> None:
    expectations = load_expectations("jwt-auth")
    lowered = IndexInfo(columns=(None,), expressions=("lower((email)::text)",), unique=True)
    users = _table("users", ["id", "email", "full_name", "password_hash"], indexes=(lowered,))
    results, _ = check_schema({"users": users}, expectations)
    # The jwt-auth contract's user has created_at, not updated_at.
    assert {(r.check, r.subject) for r in results if not r.passed} == {
        ("timestamps", "users.created_at"),
    }


def test_advice_checks_are_reported_but_not_scored() -> None:
    """No index and no foreign key: the contract does not ask for either, so the score
    stays 1.0 while the findings say what is missing."""
    expectations = load_expectations("user-crud")
    users = _table(
        "users", ["id", "email", "full_name", "hashed_password", "is_active"], indexes=()
    )
    stamps = tuple(
        ColumnInfo(name, "TIMESTAMP", "datetime", False, None)
        for name in ("created_at", "updated_at")
    )
    unique_email = IndexInfo(columns=("email",), expressions=(), unique=True)
    users = TableInfo(users.name, users.columns + stamps, ("id",), (), (unique_email,))
    results, _ = check_schema({"users": users}, expectations)
    failed = {(r.check, r.subject) for r in results if not r.passed}
    assert failed == {("index", "users.created_at")}
    assert score_checks(results) == 1.0


@pytest.mark.parametrize(("scale", "passes"), [(2, True), (4, True), (0, False), (None, False)])
def test_money_scale_is_at_least_two(scale: int | None, passes: bool) -> None:
    expectations = load_expectations("orders-inventory")
    price = ColumnInfo("price", f"NUMERIC(12, {scale})", "decimal", False, scale)
    columns = tuple(ColumnInfo(c, "VARCHAR(255)", "string", False, None) for c in ("sku", "name"))
    stock = ColumnInfo("stock", "INTEGER", "integer", False, None)
    products = TableInfo("products", (*columns, price, stock), ("id",), (), ())
    results, _ = check_schema({"products": products}, expectations)
    scale_checks = [r for r in results if r.check == "money-scale"]
    assert [r.passed for r in scale_checks] == [passes]
