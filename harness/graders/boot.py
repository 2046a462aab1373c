"""boot: the app installs, imports, starts, serves /openapi.json and creates its tables.

"Its tables" are those of the entities the task's schema expectations require, found by
the same entity matcher the schema grader uses (`users`, `app_users` and `accounts` are
all a user table); the contract leaves table names to the app."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import SQLAlchemyError

from harness.core.errors import InfrastructureError
from harness.graders.base import Finding, Grader, GradeResult, GradingContext
from harness.graders.expectations import expectation_files, load_expectations
from harness.graders.schema import match_entities, read_schema


class BootGrader(Grader):
    name = "boot"
    # 2: tables found by the schema grader's entity matcher (its data is part of the grade)
    version = "2"
    needs_live_app = False
    weight = 1.0
    order = 10
    decides_proofs = True
    coverage_scaled = True  # booting says nothing about what the app implements
    data_files = expectation_files()

    def grade(self, context: GradingContext) -> GradeResult:
        if not context.booted or context.base_url is None:
            finding = Finding(
                grader=self.name,
                check="app-starts",
                severity="critical",
                message="the app did not start and serve HTTP",
                evidence=context.boot_error or "",
            )
            return GradeResult(grader=self.name, score=0.0, findings=[finding])
        findings = [f for f in (self._check_openapi(context), self._check_tables(context)) if f]
        passed = 3 - len(findings)
        return GradeResult(grader=self.name, score=passed / 3, findings=findings)

    def _check_openapi(self, context: GradingContext) -> Finding | None:
        try:
            response = httpx.get(f"{context.base_url}/openapi.json", timeout=10)
            document = response.json()
            if response.status_code == 200 and isinstance(document, dict) and document.get("paths"):
                return None
            problem = f"status {response.status_code}, no 'paths' in the document"
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        return Finding(
            grader=self.name,
            check="openapi-served",
            severity="high",
            message="GET /openapi.json did not return an OpenAPI document",
            evidence=problem,
        )

    def _check_tables(self, context: GradingContext) -> Finding | None:
        try:
            tables = read_schema(context.sample_admin_url(), context.database_kind)
        except (InfrastructureError, SQLAlchemyError) as exc:
            tables = {}
            evidence = f"could not inspect the database: {exc.__class__.__name__}"
        else:
            evidence = f"tables present: {', '.join(tables) or 'none'}"
        expectations = load_expectations(context.task.id, context.task.root.parent)
        required = [e.name for e in expectations.entities if e.required]
        matched = match_entities(expectations, tables)
        missing = [name for name in required if name not in matched]
        if tables and not missing:
            return None
        return Finding(
            grader=self.name,
            check="tables-created",
            severity="high",
            message="the app did not create its tables at startup"
            + (f" (no table for {', '.join(missing)})" if missing else ""),
            evidence=evidence,
        )
