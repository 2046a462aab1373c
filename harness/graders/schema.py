"""schema: the database schema the app created at startup, read back from the real
database with SQLAlchemy inspection and held to what the task's contract implies.

Checks (each instance is one table, column or foreign key). The score is the
severity-weighted share of the *contract* checks passed: what the contract itself
implies about what must be stored and how (a table per entity, its fields, NOT NULL,
unique, exact money, the timestamps it lists). The *advice* checks (indexes, foreign
keys, ON DELETE rules: the seed agent's "add indexes for commonly queried fields" and
"use database-level constraints", which the contract does not require) are reported as
info findings and leave the score alone.

- `table-present` (high, contract): a table for every entity the contract requires.
- `primary-key` (high, contract): every table in the database has one.
- `column-present` (medium, contract): a column for every field the entity must store.
- `not-null` (medium, contract): required fields, timestamps and required foreign keys
  are NOT NULL.
- `unique` (high, contract): a unique constraint or unique index on the column alone
  (email, sku): two requests can race past an application-level check.
- `timestamps` (low, contract): the created_at / updated_at the contract lists exist
  and are date-time typed.
- `money-type` (high, contract): money is DECIMAL/NUMERIC, never a binary float.
- `money-scale` (medium, contract): ... with at least 2 decimal places (the contract
  says "at most 2 places": any scale from 2 keeps such a value exact).
- `index` (advice): fields the contract filters or sorts by lead some index (or the key).
- `foreign-key` (advice): related tables are linked by a foreign key.
- `on-delete` (advice): the ON DELETE rule the contract's behaviour suggests.

What each task implies lives in `tasks/<task-id>/grading/schema.yaml`. The inspected
schema goes to `details["schema"]` in a dialect-neutral form (generic types, no index
names) so results on PostgreSQL and MySQL can be compared without re-running anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from harness.core.errors import InfrastructureError
from harness.graders.base import Finding, Grader, GradeResult, GradingContext, Severity
from harness.graders.expectations import (
    TIMESTAMP_NAMES,
    ColumnExpectation,
    EntityExpectation,
    RelationExpectation,
    SchemaExpectations,
    expectation_files,
    load_expectations,
)

CHECKS: dict[str, tuple[Severity, str]] = {
    "table-present": ("high", "no table for an entity the contract requires"),
    "primary-key": ("high", "a table has no primary key"),
    "column-present": ("medium", "no column stores a field the contract requires"),
    "not-null": ("medium", "a required column is nullable"),
    "unique": ("high", "a field that must be unique has no unique constraint or index"),
    "index": ("info", "advice: a field the contract filters or sorts by has no index"),
    "foreign-key": ("info", "advice: related tables are not linked by a foreign key"),
    "on-delete": ("info", "advice: a foreign key lacks the ON DELETE rule suggested"),
    "timestamps": ("low", "a created_at/updated_at column is missing or not date-time typed"),
    "money-type": ("high", "money is not stored as an exact DECIMAL/NUMERIC"),
    "money-scale": ("medium", "money is stored with fewer than 2 decimal places"),
}
# Advice checks (severity info) are reported and never scored.
SEVERITY_WEIGHTS: dict[str, float] = {"critical": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
MONEY_SCALE = 2


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type_text: str
    generic: str
    nullable: bool
    scale: int | None


@dataclass(frozen=True)
class ForeignKeyInfo:
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    on_delete: str


@dataclass(frozen=True)
class IndexInfo:
    """An index or unique constraint; `columns` holds None for an expression part."""

    columns: tuple[str | None, ...]
    expressions: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyInfo, ...]
    indexes: tuple[IndexInfo, ...]

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    def leads_index(self, column: str) -> bool:
        """Whether a lookup on `column` can use an index: the key, or any index led by it."""
        if self.primary_key and self.primary_key[0].lower() == column.lower():
            return True
        return any(
            (index.columns and (index.columns[0] or "").lower() == column.lower())
            or _expression_on(index, column)
            for index in self.indexes
        )

    def unique_alone(self, column: str) -> bool:
        """Whether the database itself refuses two rows with the same value in `column`."""
        if tuple(c.lower() for c in self.primary_key) == (column.lower(),):
            return True
        return any(
            index.unique
            and (
                tuple((c or "").lower() for c in index.columns) == (column.lower(),)
                or _expression_on(index, column)
            )
            for index in self.indexes
        )

    def describe_indexes(self) -> str:
        parts = [f"key({', '.join(self.primary_key)})"] if self.primary_key else []
        for index in self.indexes:
            cols = ", ".join(c or "<expr>" for c in index.columns)
            parts.append(f"{'unique' if index.unique else 'index'}({cols})")
        return "; ".join(parts) or "none"


def _expression_on(index: IndexInfo, column: str) -> bool:
    """A one-part expression index such as lower(email) counts for that column."""
    if len(index.columns) != 1 or index.columns[0] is not None:
        return False
    return any(re.search(rf"\b{re.escape(column)}\b", e, re.I) for e in index.expressions)


@dataclass(frozen=True)
class CheckResult:
    check: str
    subject: str
    passed: bool
    evidence: str


def generic_type(type_: Any, kind: str) -> str:
    """A dialect-neutral name for a reflected column type."""
    if isinstance(type_, sqltypes.Boolean):
        return "boolean"
    if isinstance(type_, sqltypes.Float):
        return "float"
    if isinstance(type_, sqltypes.Numeric):
        return "decimal"
    if isinstance(type_, sqltypes.Integer):
        display_width = getattr(type_, "display_width", None)
        if kind == "mysql" and type(type_).__name__ == "TINYINT" and display_width == 1:
            return "boolean"
        return "integer"
    if isinstance(type_, sqltypes.DateTime):
        return "datetime"
    for generic, cls in (
        ("date", sqltypes.Date),
        ("time", sqltypes.Time),
        ("interval", sqltypes.Interval),
        ("string", sqltypes.String),
        ("json", sqltypes.JSON),
        ("binary", (sqltypes.LargeBinary, sqltypes.BINARY, sqltypes.VARBINARY)),
        ("uuid", sqltypes.Uuid),
    ):
        if isinstance(type_, cls):
            return generic
    return "other"


def _type_text(type_: Any, engine: Engine) -> str:
    try:
        return str(type_.compile(dialect=engine.dialect))
    except SQLAlchemyError:
        return type(type_).__name__


def read_schema(url: str, kind: str) -> dict[str, TableInfo]:
    """Every table of the database at `url`, as the server reports it (one query per
    kind of object, not per table: PostgreSQL's catalogue queries are the slow part)."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        columns = inspector.get_multi_columns()
        keys = inspector.get_multi_pk_constraint()
        foreign_keys = inspector.get_multi_foreign_keys()
        indexes = inspector.get_multi_indexes()
        uniques = inspector.get_multi_unique_constraints()
        return {
            key[1]: TableInfo(
                name=key[1],
                columns=tuple(_column_info(c, engine, kind) for c in columns[key]),
                primary_key=tuple(keys[key]["constrained_columns"] if key in keys else ()),
                foreign_keys=tuple(
                    sorted(
                        (_foreign_key_info(fk) for fk in foreign_keys.get(key, [])),
                        key=lambda fk: (fk.columns, fk.referred_table),
                    )
                ),
                indexes=_index_infos(indexes.get(key, []), uniques.get(key, [])),
            )
            for key in sorted(columns, key=lambda k: k[1])
        }
    except SQLAlchemyError as exc:
        raise InfrastructureError(
            f"schema: could not inspect the sample database: {exc.__class__.__name__}: {exc}"
        ) from exc
    finally:
        engine.dispose()


def _column_info(column: Any, engine: Engine, kind: str) -> ColumnInfo:
    return ColumnInfo(
        name=column["name"],
        type_text=_type_text(column["type"], engine),
        generic=generic_type(column["type"], kind),
        nullable=bool(column["nullable"]),
        scale=getattr(column["type"], "scale", None),
    )


def _foreign_key_info(fk: Any) -> ForeignKeyInfo:
    on_delete = (fk.get("options") or {}).get("ondelete") or "NO ACTION"
    return ForeignKeyInfo(
        columns=tuple(fk["constrained_columns"]),
        referred_table=fk["referred_table"],
        referred_columns=tuple(fk["referred_columns"]),
        on_delete=str(on_delete).upper(),
    )


def _index_infos(indexes: Sequence[Any], uniques: Sequence[Any]) -> tuple[IndexInfo, ...]:
    """Indexes and unique constraints together (MySQL reports a unique key as both)."""
    found = {
        IndexInfo(
            columns=tuple(index["column_names"]),
            expressions=tuple(str(e) for e in index.get("expressions") or ()),
            unique=bool(index["unique"]),
        )
        for index in indexes
    }
    found |= {
        IndexInfo(columns=tuple(constraint["column_names"]), expressions=(), unique=True)
        for constraint in uniques
    }
    return tuple(sorted(found, key=_index_key))


def _index_key(index: IndexInfo) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    return (tuple(c or "" for c in index.columns), index.unique, index.expressions)


def schema_details(tables: dict[str, TableInfo]) -> dict[str, Any]:
    """The inspected schema in a form to compare across databases (sorted, no names)."""
    return {
        table.name: {
            "columns": {
                column.name: {
                    "type": column.type_text,
                    "generic": column.generic,
                    "nullable": column.nullable,
                    **({"scale": column.scale} if column.generic == "decimal" else {}),
                }
                for column in table.columns
            },
            "primary_key": list(table.primary_key),
            "foreign_keys": [
                {
                    "columns": list(fk.columns),
                    "referred_table": fk.referred_table,
                    "referred_columns": list(fk.referred_columns),
                    "on_delete": fk.on_delete,
                }
                for fk in table.foreign_keys
            ],
            "indexes": [
                {
                    "columns": [c or "<expression>" for c in index.columns],
                    "unique": index.unique,
                    **({"expressions": list(index.expressions)} if index.expressions else {}),
                }
                for index in table.indexes
            ],
        }
        for table in tables.values()
    }


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_tokens(name: str) -> tuple[str, ...]:
    """Lower-case singular words of a table name: `OrderItems` -> ('order', 'item')."""
    words = re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower())
    return tuple(_singular(word) for word in words if word)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _stem_match(stem: str, table: str) -> int:
    """2 for the table being the stem itself, 1 for containing it, 0 for neither."""
    stem_tokens, table_tokens = name_tokens(stem), name_tokens(table)
    if stem_tokens == table_tokens or "".join(stem_tokens) == "".join(table_tokens):
        return 2
    width = len(stem_tokens)
    windows = (table_tokens[i : i + width] for i in range(len(table_tokens) - width + 1))
    return 1 if any(window == stem_tokens for window in windows) else 0


def find_column(table: TableInfo, expectation: ColumnExpectation) -> ColumnInfo | None:
    """The column holding a field: an accepted name first, then a `like` substring."""
    for name in expectation.accepted_names:
        column = table.column(name)
        if column is not None:
            return column
    return next(
        (
            column
            for column in table.columns
            if any(part.lower() in column.name.lower() for part in expectation.like)
        ),
        None,
    )


def match_entities(
    expectations: SchemaExpectations, tables: dict[str, TableInfo]
) -> dict[str, TableInfo]:
    """Entity name -> its table: exact stem matches first, then the table holding most
    of the entity's columns, then the shortest name; a table serves one entity."""
    candidates: list[tuple[int, int, int, int, str, str]] = []
    for order, entity in enumerate(expectations.entities):
        for table in tables.values():
            quality = max(_stem_match(stem, table.name) for stem in entity.tables)
            if quality:
                found = sum(1 for c in entity.columns if find_column(table, c) is not None)
                tokens = len(name_tokens(table.name))
                candidates.append((-quality, -found, tokens, order, table.name, entity.name))
    matched: dict[str, TableInfo] = {}
    for *_, table_name, entity_name in sorted(candidates):
        if entity_name not in matched and all(t.name != table_name for t in matched.values()):
            matched[entity_name] = tables[table_name]
    return matched


class _Checks:
    """Collects check results in the order they are made; a check of a subject that two
    expectations imply (a required column that is also a required foreign key) counts once."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def add(self, check: str, subject: str, passed: bool, evidence: str) -> None:
        if not any(r.check == check and r.subject == subject for r in self.results):
            self.results.append(CheckResult(check, subject, passed, evidence))


def check_schema(
    tables: dict[str, TableInfo], expectations: SchemaExpectations
) -> tuple[list[CheckResult], dict[str, str]]:
    """Every check on one inspected schema; also the entity -> table matches."""
    checks = _Checks()
    if not tables:
        checks.add("table-present", "(any)", False, "the database has no tables")
    for table in tables.values():
        checks.add(
            "primary-key",
            table.name,
            bool(table.primary_key),
            f"{table.name}: primary key ({', '.join(table.primary_key)})"
            if table.primary_key
            else f"{table.name}: no primary key (columns: {_column_list(table)})",
        )
    matched = match_entities(expectations, tables)
    for entity in expectations.entities:
        found = matched.get(entity.name)
        if found is None:
            if entity.required:
                checks.add(
                    "table-present",
                    entity.name,
                    False,
                    f"no table named like {', '.join(entity.tables)} "
                    f"(tables: {', '.join(tables) or 'none'})",
                )
            continue
        if entity.required:
            checks.add("table-present", entity.name, True, f"{entity.name}: {found.name}")
        _check_entity(checks, entity, found)
    for relation in expectations.relations:
        source, target = matched.get(relation.source), matched.get(relation.target)
        if source is not None and target is not None:
            _check_relation(checks, relation, source, target)
    return checks.results, {name: table.name for name, table in sorted(matched.items())}


def _column_list(table: TableInfo) -> str:
    return ", ".join(column.name for column in table.columns) or "none"


def _check_entity(checks: _Checks, entity: EntityExpectation, table: TableInfo) -> None:
    for expectation in entity.columns:
        is_timestamp = expectation.name in entity.timestamps
        column = find_column(table, expectation)
        if column is None:
            if not expectation.optional and not is_timestamp:
                names = ", ".join(expectation.accepted_names)
                checks.add(
                    "column-present",
                    f"{table.name}.{expectation.name}",
                    False,
                    f"{table.name}: no column named like {names} (columns: {_column_list(table)})",
                )
            continue
        subject = f"{table.name}.{column.name}"
        if not expectation.optional and not is_timestamp:
            checks.add("column-present", subject, True, f"{subject} ({column.type_text})")
        if expectation.required and not is_timestamp:
            _check_not_null(checks, table, column)
        if expectation.unique:
            checks.add(
                "unique",
                subject,
                table.unique_alone(column.name),
                f"{subject}: constraints and indexes: {table.describe_indexes()}",
            )
        if expectation.indexed:
            _check_index(checks, table, column.name)
        if expectation.money:
            _check_money(checks, subject, column)
    _check_timestamps(checks, entity, table)


def _check_timestamps(checks: _Checks, entity: EntityExpectation, table: TableInfo) -> None:
    for stamp in entity.timestamps:
        override = next((c for c in entity.columns if c.name == stamp), None)
        accepted = override.accepted_names if override else TIMESTAMP_NAMES[stamp]
        column = next((c for n in accepted if (c := table.column(n)) is not None), None)
        if column is None:
            checks.add(
                "timestamps",
                f"{table.name}.{stamp}",
                False,
                f"{table.name}: no {stamp} column (columns: {_column_list(table)})",
            )
            continue
        subject = f"{table.name}.{column.name}"
        dated = column.generic == "datetime"
        checks.add(
            "timestamps",
            subject,
            dated,
            f"{subject} is {column.type_text}" + ("" if dated else ", not a date-time type"),
        )
        _check_not_null(checks, table, column)


def _check_not_null(checks: _Checks, table: TableInfo, column: ColumnInfo) -> None:
    subject = f"{table.name}.{column.name}"
    state = "NULL allowed" if column.nullable else "NOT NULL"
    checks.add("not-null", subject, not column.nullable, f"{subject} {column.type_text} {state}")


def _check_index(checks: _Checks, table: TableInfo, column: str) -> None:
    subject = f"{table.name}.{column}"
    checks.add(
        "index",
        subject,
        table.leads_index(column),
        f"{subject}: constraints and indexes: {table.describe_indexes()}",
    )


def _check_money(checks: _Checks, subject: str, column: ColumnInfo) -> None:
    exact = column.generic == "decimal"
    checks.add(
        "money-type",
        subject,
        exact,
        f"{subject} is {column.type_text}"
        + ("" if exact else f" ({column.generic}), not DECIMAL/NUMERIC"),
    )
    if exact:
        checks.add(
            "money-scale",
            subject,
            column.scale is not None and column.scale >= MONEY_SCALE,
            f"{subject} is {column.type_text}: scale {column.scale}, expected at least"
            f" {MONEY_SCALE}",
        )


def _check_relation(
    checks: _Checks, relation: RelationExpectation, source: TableInfo, target: TableInfo
) -> None:
    subject = f"{source.name} -> {target.name}"
    fk = next((f for f in source.foreign_keys if f.referred_table == target.name), None)
    if fk is None:
        others = ", ".join(
            f"{', '.join(f.columns)} -> {f.referred_table}" for f in source.foreign_keys
        )
        checks.add(
            "foreign-key",
            subject,
            False,
            f"{source.name} has no foreign key to {target.name} "
            f"(foreign keys: {others or 'none'}; columns: {_column_list(source)})",
        )
        return
    link = f"{source.name}.{', '.join(fk.columns)} -> {target.name}"
    checks.add("foreign-key", subject, True, f"{link} ON DELETE {fk.on_delete}")
    if relation.on_delete is not None:
        wanted = relation.on_delete.upper()
        checks.add(
            "on-delete",
            subject,
            fk.on_delete == wanted,
            f"{link} ON DELETE {fk.on_delete}, expected {wanted}"
            + (f" ({relation.why})" if relation.why else ""),
        )
    if relation.required:
        for name in fk.columns:
            column = source.column(name)
            if column is not None:
                _check_not_null(checks, source, column)
    if relation.indexed and fk.columns:
        _check_index(checks, source, fk.columns[0])


def _findings(grader: str, results: Sequence[CheckResult]) -> Iterator[Finding]:
    for result in results:
        if not result.passed:
            severity, message = CHECKS[result.check]
            yield Finding(
                grader=grader,
                check=result.check,
                severity=severity,
                message=message,
                evidence=result.evidence,
                subject=result.subject,
            )


def score_checks(results: Sequence[CheckResult]) -> float:
    """Severity-weighted share of the scored (contract) checks passed; 0 when none."""
    scored = [r for r in results if CHECKS[r.check][0] in SEVERITY_WEIGHTS]
    total = sum(SEVERITY_WEIGHTS[CHECKS[r.check][0]] for r in scored)
    passed = sum(SEVERITY_WEIGHTS[CHECKS[r.check][0]] for r in scored if r.passed)
    return passed / total if total else 0.0


class SchemaGrader(Grader):
    name = "schema"
    # 2: advice checks unscored, severity weights, money scale at least 2, read as admin
    version = "2"
    needs_live_app = True
    weight = 1.0
    order = 40
    coverage_scaled = False
    data_files = expectation_files()

    def grade(self, context: GradingContext) -> GradeResult:
        expectations = load_expectations(context.task.id, context.task.root.parent)
        # Read as the server's admin: the app can change its own user's password or
        # grants, but not hide its schema from the harness that way.
        tables = read_schema(context.sample_admin_url(), context.database_kind)
        results, matched = check_schema(tables, expectations)
        findings = sorted(
            _findings(self.name, results), key=lambda f: (f.check, f.evidence, f.message)
        )
        passed = sum(1 for result in results if result.passed)
        return GradeResult(
            grader=self.name,
            score=score_checks(results),
            findings=findings,
            details={
                "database_kind": context.database_kind,
                "passed": passed,
                "checked": len(results),
                "entities": matched,
                "checks": [
                    {
                        "check": r.check,
                        "subject": r.subject,
                        "passed": r.passed,
                        "evidence": r.evidence,
                    }
                    for r in sorted(results, key=lambda r: (r.check, r.subject))
                ],
                "schema": schema_details(tables),
            },
        )
