"""boot: the app installs, imports, starts, serves /openapi.json and creates its tables."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from graders.base import Finding, GradeResult, GradingContext, register_grader


@register_grader
class BootGrader:
    name = "boot"
    version = "1"
    needs_live_app = False

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
        engine = create_engine(context.database_url)
        try:
            tables = inspect(engine).get_table_names()
        except SQLAlchemyError as exc:
            tables = []
            evidence = f"could not inspect the database: {exc.__class__.__name__}"
        else:
            evidence = f"tables present: {', '.join(tables) or 'none'}"
        finally:
            engine.dispose()
        missing = [
            stem
            for stem in context.task.spec.expected_tables
            if not any(stem in table.lower() for table in tables)
        ]
        if tables and not missing:
            return None
        return Finding(
            grader=self.name,
            check="tables-created",
            severity="high",
            message="the app did not create its tables at startup"
            + (f" (no table named like {', '.join(missing)})" if missing else ""),
            evidence=evidence,
        )
