"""Code organised by concern: files or packages for models, schemas, database,
dependencies, routes and main; separate Create/Update/Read schemas; dependencies
injected with `Depends`."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import WRITE_ROUTE_METHODS, Candidate

# A concern is present when a file stem, one of its `_` words, or a folder says so.
CONCERNS: dict[str, frozenset[str]] = {
    "models": frozenset({"models", "model", "entities", "orm", "tables"}),
    "schemas": frozenset({"schemas", "schema", "dto", "dtos", "serializers"}),
    "database": frozenset({"database", "db", "session", "sessions", "engine"}),
    "dependencies": frozenset({"dependencies", "dependency", "deps"}),
    "routes": frozenset(
        {"routes", "route", "routers", "router", "api", "endpoints", "views", "handlers"}
    ),
}
CREATE_SCHEMA = re.compile(r"Create|Register|Signup|SignUp|In$|Input$|Request$")
UPDATE_SCHEMA = re.compile(r"Update|Patch|Edit")
READ_SCHEMA = re.compile(r"Read|Response|Out$|Public|Detail|Summary|View")


def layout_by_concern(candidate: Candidate) -> Outcome:
    python = [path for path in sorted(candidate.files) if path.endswith(".py")]
    words_by_path = {path: _words(path) for path in python}
    problems = []
    for concern, words in CONCERNS.items():
        if not any(words & found for found in words_by_path.values()):
            problems.append(f"no module or package for {concern}")
    if not any(PurePosixPath(path).name == "main.py" for path in python):
        problems.append("no main.py (the application setup)")
    return Outcome.from_problems(problems, note=f"python files: {', '.join(python) or 'none'}")


def _words(path: str) -> set[str]:
    posix = PurePosixPath(path)
    words = {posix.stem, *posix.parent.parts}
    return words | set(posix.stem.split("_"))


def separate_schemas(candidate: Candidate) -> Outcome:
    names = sorted(candidate.schema_classes)
    if not names:
        return Outcome("failed", ("no Pydantic schema classes",))
    kinds = {
        "Create": [n for n in names if CREATE_SCHEMA.search(n)],
        "Read": [n for n in names if READ_SCHEMA.search(n)],
    }
    if any(h.method in WRITE_ROUTE_METHODS for h in candidate.route_handlers):
        kinds["Update"] = [n for n in names if UPDATE_SCHEMA.search(n)]
    problems = [
        f"no {kind} schema among: {', '.join(names)}" for kind, found in kinds.items() if not found
    ]
    note = "; ".join(f"{kind}: {', '.join(found)}" for kind, found in kinds.items() if found)
    return Outcome.from_problems(problems, note=note)


def injected_dependencies(candidate: Candidate) -> Outcome:
    if not candidate.route_handlers:
        return Outcome("not-applicable", note="no route handlers")
    uses = candidate.uses("fastapi.Depends", "fastapi.Security", "fastapi.params.Depends")
    if uses:
        return Outcome("passed", note=f"{len(uses)} uses of Depends/Security")
    return Outcome(
        "failed", ("no Depends()/Security() anywhere: sessions and auth are not injected",)
    )
