"""checklist: the code held statically to the seed agent's own checklist.

Every item of the seed's "Implementation Standards", "Output Requirements" and "Quality
Checklist" that code can decide is a named check below, with its severity and the seed
items it decides; the others are listed in `UNDECIDABLE` (with why) or `DELEGATED` (the
grader that decides them), never guessed. The score is the severity-weighted share of
passed checks among those that apply (`SEVERITY_WEIGHTS`); not-applicable and skipped
checks count for nothing either way. No live app is needed: the grader reads the files
and, when they were extracted from an answer text, that text (for the output-format
check, which does not apply to a workspace agent's files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.graders.base import Finding, Grader, GradeResult, GradingContext, Severity
from harness.graders.static_checks import (
    async_code,
    credentials,
    layout,
    output_format,
    passwords,
    queries,
    ruff,
    type_hints,
)
from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import Candidate

SEVERITY_WEIGHTS: dict[str, float] = {"critical": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
EVIDENCE_LINES = 20

IMPLEMENTATION = "Implementation Standards"
OUTPUT = "Output Requirements"
QUALITY = "Quality Checklist"


@dataclass(frozen=True)
class ChecklistItem:
    check: str
    severity: Severity
    message: str
    seed: tuple[str, ...]
    run: Callable[[Candidate], Outcome]


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem(
        "python-parses",
        "high",
        "a Python file does not parse",
        (f"{OUTPUT}: Complete, executable code files organized by concern",),
        output_format.python_parses,
    ),
    ChecklistItem(
        "async-handlers",
        "medium",
        "route handlers are plain functions, not coroutines",
        (
            f"{IMPLEMENTATION}: Use async/await consistently throughout the codebase",
            f"{QUALITY}: Async patterns are used consistently",
        ),
        async_code.async_handlers,
    ),
    ChecklistItem(
        "async-database",
        "medium",
        "the database is used through a sync engine, session or driver",
        (
            f"{IMPLEMENTATION}: Implement async database sessions with proper context management",
            f"{IMPLEMENTATION}: Use select() statements with async execution",
            f"{QUALITY}: Async patterns are used consistently",
        ),
        async_code.async_database_access,
    ),
    ChecklistItem(
        "no-blocking-calls",
        "low",
        "a coroutine makes a blocking call",
        (f"{IMPLEMENTATION}: Avoid blocking I/O operations",),
        async_code.no_blocking_calls,
    ),
    ChecklistItem(
        "session-context",
        "low",
        "a database session is opened outside a context manager",
        (f"{IMPLEMENTATION}: Implement async database sessions with proper context management",),
        async_code.sessions_in_context,
    ),
    ChecklistItem(
        "type-hints",
        "low",
        "functions lack type hints on parameters or return",
        (
            f"{OUTPUT}: Type hints on all functions and methods",
            f"{QUALITY}: Type hints are present and accurate",
        ),
        type_hints.type_hints,
    ),
    ChecklistItem(
        "no-hardcoded-database-url",
        "high",
        "a database URL with credentials or a database name is written in the code",
        (
            f"{OUTPUT}: No database name specifications",
            f"{QUALITY}: No hardcoded credentials or database names",
        ),
        credentials.hardcoded_database_urls,
    ),
    ChecklistItem(
        "no-hardcoded-secrets",
        "high",
        "a secret or password is written in the code",
        (f"{QUALITY}: No hardcoded credentials or database names",),
        credentials.hardcoded_secrets,
    ),
    ChecklistItem(
        "password-hashing",
        "high",
        "passwords are not hashed with bcrypt or argon2",
        (f"{IMPLEMENTATION}: Hash passwords with bcrypt or argon2",),
        passwords.password_hashing,
    ),
    ChecklistItem(
        "no-password-in-response-schema",
        "high",
        "a response schema carries a password or secret field",
        (f"{IMPLEMENTATION}: Never expose sensitive data in responses",),
        passwords.no_password_in_responses,
    ),
    ChecklistItem(
        "parameterized-queries",
        "high",
        "SQL text is built by string formatting",
        (f"{IMPLEMENTATION}: Use parameterized queries (ORM handles this)",),
        queries.parameterized_queries,
    ),
    ChecklistItem(
        "select-not-query",
        "low",
        "legacy session.query() instead of select()",
        (f"{IMPLEMENTATION}: Use select() statements with async execution",),
        queries.select_not_query,
    ),
    ChecklistItem(
        "eager-loading",
        "medium",
        "a serialised relationship is loaded lazily",
        (
            f"{IMPLEMENTATION}: Implement proper eager loading for relationships "
            "(selectinload, joinedload)",
        ),
        queries.eager_loading,
    ),
    ChecklistItem(
        "atomic-writes",
        "medium",
        "a multi-step write is not one transaction",
        (
            f"{IMPLEMENTATION}: Wrap multi-step operations in database transactions",
            f"{IMPLEMENTATION}: Implement proper commit/rollback logic",
            f"{IMPLEMENTATION}: Use session.begin() for explicit transaction control",
            f"{QUALITY}: Database transactions are properly managed",
        ),
        queries.atomic_writes,
    ),
    ChecklistItem(
        "layout-by-concern",
        "low",
        "the code is not organised by concern",
        (
            f"{IMPLEMENTATION}: Separate concerns: models, schemas, routes, dependencies, services",
            f"{OUTPUT}: Complete, executable code files organized by concern",
        ),
        layout.layout_by_concern,
    ),
    ChecklistItem(
        "separate-schemas",
        "low",
        "no separate Create/Update/Read schemas",
        (f"{QUALITY}: Schemas properly validate input and serialize output",),
        layout.separate_schemas,
    ),
    ChecklistItem(
        "injected-dependencies",
        "low",
        "no dependency injection (Depends) for sessions or auth",
        (f"{IMPLEMENTATION}: Create reusable dependencies for common operations",),
        layout.injected_dependencies,
    ),
    ChecklistItem(
        "ruff-pyflakes",
        "low",
        "ruff (pyflakes rules) finds unused or undefined names",
        (
            f"{OUTPUT}: All necessary imports included",
            f"{QUALITY}: All imports are necessary and correct",
        ),
        lambda candidate: ruff.pyflakes_clean(candidate.lint),
    ),
    ChecklistItem(
        "ruff-pep8",
        "low",
        "ruff (pycodestyle and isort rules) finds PEP 8 violations",
        (f"{QUALITY}: Code follows Python PEP 8 conventions",),
        lambda candidate: ruff.pep8_clean(candidate.lint),
    ),
    ChecklistItem(
        "code-only-response",
        "low",
        "the response holds prose, markdown or setup instructions outside the code",
        (
            f"{OUTPUT}: ONLY the final working code",
            f"{OUTPUT}: No explanatory text, comments, or markdown",
            f"{OUTPUT}: No setup instructions or documentation",
        ),
        output_format.code_only_response,
    ),
    # v1's "No explanatory text, comments" is an output rule of that prompt version
    # alone (v2 and the runtime contract ask for a path header): reported, not scored,
    # so the checklist does not favour one prompt version by its own wording.
    ChecklistItem(
        "no-comments",
        "info",
        "the code holds comments",
        (f"{OUTPUT}: No explanatory text, comments, or markdown",),
        output_format.no_comments,
    ),
    ChecklistItem(
        "no-docstrings",
        "info",
        "the code holds docstrings (explanatory text)",
        (f"{OUTPUT}: No explanatory text, comments, or markdown",),
        output_format.no_docstrings,
    ),
    ChecklistItem(
        "no-documentation-files",
        "low",
        "the answer includes documentation files",
        (f"{OUTPUT}: No setup instructions or documentation",),
        output_format.no_documentation_files,
    ),
    ChecklistItem(
        "complete-code",
        "medium",
        "the code has stubs or unfinished markers",
        (f"{OUTPUT}: Complete, executable code files organized by concern",),
        output_format.complete_code,
    ),
)

UNDECIDABLE: tuple[tuple[str, str], ...] = (
    (
        f"{IMPLEMENTATION}: Use async comprehensions and iterators where appropriate",
        "'where appropriate' is a judgement; no construct is required anywhere",
    ),
    (
        f"{IMPLEMENTATION}: Handle concurrent access scenarios",
        "whether an operation needs a lock depends on its semantics; the hidden tests "
        "exercise concurrent orders at run time",
    ),
    (
        f"{IMPLEMENTATION}: Implement input validation at schema level",
        "how much validation suffices depends on the contract; the functional and fuzz "
        "graders probe it at run time",
    ),
    (
        f"{IMPLEMENTATION}: Validate and sanitize all user inputs",
        "sufficiency is not decidable from the code; probed at run time by fuzz/security",
    ),
    (
        f"{IMPLEMENTATION}: Add rate limiting considerations in design",
        "a consideration leaves no required trace in the code",
    ),
    (
        f"{IMPLEMENTATION}: Use repository pattern for database operations when "
        "complexity warrants",
        "'when complexity warrants' is a judgement",
    ),
    (
        f"{IMPLEMENTATION}: Keep routes thin - delegate business logic to service layers",
        "no threshold separates thin from thick handlers; layout-by-concern checks the "
        "modules exist",
    ),
    (
        f"{QUALITY}: Error handling covers common failure cases",
        "which failures are common depends on the contract; the functional and fuzz "
        "graders check status codes at run time",
    ),
    (
        f"{QUALITY}: Type hints are present and accurate",
        "presence is checked (type-hints); accuracy needs a type checker run against the "
        "runtime's packages, not done here",
    ),
)

DELEGATED: tuple[tuple[str, str], ...] = (
    (f"{QUALITY}: All CRUD operations are implemented and functional", "functional"),
    (f"{OUTPUT}: Complete, executable code files organized by concern", "boot"),
    (f"{IMPLEMENTATION}: Add indexes for commonly queried fields", "schema"),
    (f"{IMPLEMENTATION}: Use database-level constraints for data integrity", "schema"),
    (f"{IMPLEMENTATION}: Never expose sensitive data in responses", "security"),
)


def response_text(context: GradingContext) -> tuple[str | None, str]:
    """The answer text the files were extracted from, as the context carries it (and as
    the grade's cache key folds it), with where it came from. None for a workspace agent
    (`command:`), whose files did not come from its text: its stdout (the run's
    `response.md`) is never graded as if it were the answer's format."""
    carried = context.response_text
    if isinstance(carried, str):
        return carried, "context"
    return None, "none"


def run_checklist(candidate: Candidate) -> list[tuple[ChecklistItem, Outcome]]:
    """Every check's outcome. Without any Python file there is nothing to hold to the
    checklist: only `python-parses` applies (and fails), so a code-free answer scores 0
    rather than passing the checks that look for something bad."""
    if not candidate.python:
        nothing = Outcome("not-applicable", note="no Python files")
        return [
            (item, item.run(candidate) if item.check == "python-parses" else nothing)
            for item in CHECKLIST
        ]
    return [(item, item.run(candidate)) for item in CHECKLIST]


def score(results: list[tuple[ChecklistItem, Outcome]]) -> float:
    """Severity-weighted share of the applicable checks passed; info checks are reported
    and not scored."""
    applicable = [
        (i, o)
        for i, o in results
        if o.status in ("passed", "failed") and i.severity in SEVERITY_WEIGHTS
    ]
    total = sum(SEVERITY_WEIGHTS[i.severity] for i, _ in applicable)
    passed = sum(SEVERITY_WEIGHTS[i.severity] for i, o in applicable if o.status == "passed")
    return passed / total if total else 0.0


def _evidence(lines: tuple[str, ...]) -> str:
    shown = list(lines[:EVIDENCE_LINES])
    if len(lines) > EVIDENCE_LINES:
        shown.append(f"... and {len(lines) - EVIDENCE_LINES} more")
    return "\n".join(shown)


def _check_details(item: ChecklistItem, outcome: Outcome) -> dict[str, Any]:
    return {
        "check": item.check,
        "severity": item.severity,
        "status": outcome.status,
        "evidence": list(outcome.evidence),
        "note": outcome.note,
        "seed": list(item.seed),
    }


class ChecklistGrader(Grader):
    name = "checklist"
    # 2: no-comments/no-docstrings informational, path header, --ignore-noqa;
    # 3: atomic-writes tells imported names and retry loops apart
    # 4: no answer text (a workspace agent) makes the output-format check not applicable;
    # the run's response.md (a `command:` agent's stdout) is no longer read
    version = "4"
    needs_live_app = False
    weight = 1.0
    order = 50
    coverage_scaled = True  # tidy code says nothing about what the app implements
    data_files = ()

    def grade(self, context: GradingContext) -> GradeResult:
        response, source = response_text(context)
        candidate = Candidate(context.files, response)
        results = run_checklist(candidate)
        findings = [
            Finding(
                grader=self.name,
                check=item.check,
                severity=item.severity,
                message=item.message,
                evidence=_evidence(outcome.evidence),
            )
            for item, outcome in results
            if outcome.status == "failed"
        ]
        findings += [
            Finding(
                grader=self.name,
                check=item.check,
                severity="info",
                message=f"not checked: {outcome.note}",
            )
            for item, outcome in results
            if outcome.status == "skipped"
        ]
        findings.sort(key=lambda f: (f.check, f.severity, f.evidence))
        return GradeResult(
            grader=self.name,
            score=score(results),
            findings=findings,
            details={
                "response_source": source,
                "severity_weights": SEVERITY_WEIGHTS,
                "ruff": {
                    "rules": list(ruff.RULES),
                    "line_length": ruff.LINE_LENGTH,
                    "target_version": ruff.TARGET_VERSION,
                },
                "checks": [_check_details(item, outcome) for item, outcome in results],
                "undecidable": [{"item": item, "reason": why} for item, why in UNDECIDABLE],
                "delegated": [{"item": item, "grader": grader} for item, grader in DELEGATED],
            },
        )
