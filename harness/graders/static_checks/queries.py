"""Database patterns: `select()` rather than `session.query`, parameters rather than SQL
built from strings, eager loading of serialised relationships, and multi-step writes in
one transaction."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import (
    Candidate,
    FunctionNode,
    PythonFile,
    is_session_like,
    session_method_calls,
    string_value,
    walk_own,
)

RAW_SQL_CALLS = ("sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text")
RAW_SQL_METHODS = frozenset({"execute", "exec_driver_sql", "executemany"})
RELATIONSHIP = ("sqlalchemy.orm.relationship", "sqlalchemy.orm.relation")
LOADER_OPTIONS = frozenset(
    {
        "selectinload",
        "joinedload",
        "subqueryload",
        "immediateload",
        "contains_eager",
        "defaultload",
    }
)
# lazy= values that never emit a hidden lazy load (raise makes a missed load loud).
EAGER_LAZY = frozenset({"selectin", "joined", "subquery", "immediate", "raise", "raise_on_sql"})
WRITE_METHODS = frozenset({"add", "add_all", "delete", "merge", "bulk_save_objects"})
DML = frozenset({"insert", "update", "delete"})


def select_not_query(candidate: Candidate) -> Outcome:
    if not candidate.imports_module("sqlalchemy"):
        return Outcome("not-applicable", note="SQLAlchemy not used")
    problems = [
        f"{file.where(call)} legacy {ast.unparse(call.func)}() (use select())"
        for file in candidate.parsed
        for call in session_method_calls(file.module, frozenset({"query"}))
    ]
    return Outcome.from_problems(problems)


def parameterized_queries(candidate: Candidate) -> Outcome:
    problems = []
    for file, node in candidate.nodes():
        if not isinstance(node, ast.Call) or not node.args:
            continue
        raw = file.qualified(node.func) in RAW_SQL_CALLS or (
            isinstance(node.func, ast.Attribute) and node.func.attr in RAW_SQL_METHODS
        )
        if raw and _built_from_strings(node.args[0]):
            problems.append(
                f"{file.where(node)} SQL text built by string formatting: {ast.unparse(node)[:100]}"
            )
    return Outcome.from_problems(problems)


def _built_from_strings(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        sides = (node.left, node.right)
        literal = [string_value(side) is not None for side in sides]
        return (any(literal) and not all(literal)) or any(
            isinstance(side, ast.JoinedStr) for side in sides
        )
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return string_value(node.func.value) is not None
    return False


@dataclass(frozen=True)
class Relationship:
    file: PythonFile
    node: ast.AST
    owner: str
    attribute: str
    lazy: str | None


def relationships(candidate: Candidate) -> list[Relationship]:
    found = []
    for file, cls in candidate.classes():
        for item in cls.body:
            target, value = _assignment(item)
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Call)
                and file.qualified(value.func) in RELATIONSHIP
            ):
                lazy = next(
                    (string_value(k.value) for k in value.keywords if k.arg == "lazy"), None
                )
                found.append(Relationship(file, item, cls.name, target.id, lazy))
    return found


def _assignment(item: ast.stmt) -> tuple[ast.AST | None, ast.AST | None]:
    if isinstance(item, ast.AnnAssign):
        return item.target, item.value
    if isinstance(item, ast.Assign) and len(item.targets) == 1:
        return item.targets[0], item.value
    return None, None


def eager_loading(candidate: Candidate) -> Outcome:
    """Relationships that a response schema serialises (a schema field of the same name)
    are loaded eagerly: a lazy load under async SQLAlchemy is a MissingGreenlet 500."""
    found = relationships(candidate)
    if not found:
        return Outcome("not-applicable", note="no relationship() in the models")
    serialised_fields = {
        field.target.id
        for schema in candidate.schema_classes.values()
        for field in schema.fields()
        if isinstance(field.target, ast.Name)
    }
    serialised = [r for r in found if r.attribute in serialised_fields]
    if not serialised:
        return Outcome("not-applicable", note="no relationship is serialised by a schema")
    loaded = _explicitly_loaded(candidate)
    problems = [
        f"{r.file.where(r.node)} {r.owner}.{r.attribute} is serialised but loaded lazily "
        f"(lazy={r.lazy!r}, no selectinload/joinedload of it)"
        for r in serialised
        if r.lazy not in EAGER_LAZY and r.attribute not in loaded
    ]
    return Outcome.from_problems(problems)


def _explicitly_loaded(candidate: Candidate) -> set[str]:
    """Attribute names named in loader options, refresh(attribute_names) or awaitable_attrs."""
    loaded: set[str] = set()
    for file, node in candidate.nodes():
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            origin = (file.qualified(node.func) or "").rsplit(".", 1)[-1]
            if origin in LOADER_OPTIONS or name in LOADER_OPTIONS or name == "refresh":
                loaded |= _attribute_names(node)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "awaitable_attrs"
        ):
            loaded.add(node.attr)
    return loaded


def _attribute_names(call: ast.Call) -> set[str]:
    names = set()
    for argument in [*call.args, *(k.value for k in call.keywords)]:
        for node in ast.walk(argument):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            text = string_value(node)
            if text is not None:
                names.add(text)
    return names


def atomic_writes(candidate: Candidate) -> Outcome:
    """A function that writes several times, in a loop, or commits in a loop does it in
    one transaction: inside `session.begin()`, or with a single commit where a failure
    rolls back (an explicit rollback, or a session closed by its context manager).
    Committing part-way (two commits, or a commit per iteration) leaves half an
    operation behind on failure. A retry loop, whose iteration leaves the loop once its
    commit succeeded, commits once. ORM attribute changes (`product.stock -= 1`) are not
    visible statically and are not counted as writes."""
    committers = _committing_functions(candidate)
    rollback_on_failure = _sessions_roll_back(candidate)
    problems = []
    checked = 0
    for file, function in candidate.functions():
        writes = _writes(file, function)
        commits = _commits(file, function, committers)
        looped = [
            n
            for n in (*writes, *commits)
            if file.inside(n, _LOOPS, function) and not _retried(file, n, function)
        ]
        if len(writes) < 2 and not looped:
            continue
        checked += 1
        if any(_calls_method(n, {"begin", "begin_nested"}) for n in walk_own(function)):
            continue
        where = f"{file.where(function)} {function.name}()"
        if len(commits) > 1 or any(
            file.inside(c, _LOOPS, function) and not _retried(file, c, function) for c in commits
        ):
            lines = ", ".join(str(c.lineno) for c in commits)
            problems.append(f"{where} writes and commits part-way (commits at lines {lines})")
        elif not (_rolls_back(function) or rollback_on_failure):
            problems.append(f"{where} writes {len(writes)} times without begin() or rollback")
    if not checked:
        return Outcome("not-applicable", note="no function writes more than once")
    return Outcome.from_problems(problems, note=f"{checked} multi-write functions")


_LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.comprehension)


def _calls_method(node: ast.AST, names: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    )


def _writes(file: PythonFile, function: FunctionNode) -> list[ast.Call]:
    writes = []
    for node in walk_own(function):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if not is_session_like(node.func.value):
            continue
        if node.func.attr in WRITE_METHODS or (
            node.func.attr == "execute" and node.args and _is_dml(file, node.args[0])
        ):
            writes.append(node)
    return writes


def _is_dml(file: PythonFile, node: ast.AST) -> bool:
    """`insert(T)...`, `update(T).where(...).values(...)`, `delete(T)` or DML text()."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            node = node.func.value
            continue
        origin = (file.qualified(node.func) or "").rsplit(".", 1)[-1]
        if origin in DML:
            return True
        text = string_value(node.args[0]) if origin == "text" and node.args else None
        return text is not None and text.lstrip().split(" ", 1)[0].lower() in DML
    return False


def _retried(file: PythonFile, node: ast.AST, function: FunctionNode) -> bool:
    """Whether `node` sits in a retry loop: within the innermost loop around it, the
    statement holding it returns, or a later statement of its block (or of the loop's
    body) returns or breaks, so an iteration that got past it ends the loop."""
    child: ast.AST = node
    current = file.parents.get(node)
    while current is not None and current is not function:
        if isinstance(child, ast.Return):
            return True
        for field in ("body", "orelse", "finalbody"):
            block = getattr(current, field, None)
            if isinstance(block, list) and child in block:
                later = block[block.index(child) + 1 :]
                if any(isinstance(statement, ast.Return | ast.Break) for statement in later):
                    return True
        if isinstance(current, _LOOPS):
            return False
        child, current = current, file.parents.get(current)
    return False


def _committing_functions(candidate: Candidate) -> set[str]:
    """Module-level functions of the candidate that commit: a bare-name call can only
    reach those (or an import, which `_commits` tells apart)."""
    return {
        node.name
        for file in candidate.parsed
        for node in file.module.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_calls_method(n, {"commit"}) for n in walk_own(node))
    }


def _commits(file: PythonFile, function: FunctionNode, committers: set[str]) -> list[ast.Call]:
    """Commit calls, counting calls to the candidate's own helpers that commit (by name,
    unless the name is imported from a library or is one of the function's parameters)."""
    parameters = {
        argument.arg for argument in ast.walk(function.args) if isinstance(argument, ast.arg)
    }
    found = []
    for node in walk_own(function):
        if not isinstance(node, ast.Call):
            continue
        if _calls_method(node, {"commit"}):
            found.append(node)
        elif (
            isinstance(node.func, ast.Name)
            and node.func.id in committers
            and node.func.id not in parameters
            and not _imported_from_library(file, node.func.id)
        ):
            found.append(node)
    return found


def _imported_from_library(file: PythonFile, name: str) -> bool:
    """`delete` from `from sqlalchemy import delete` is not the candidate's own helper."""
    origin = file.imports.get(name)
    return origin is not None and origin.split(".", 1)[0] in _LIBRARIES


_LIBRARIES = frozenset({"sqlalchemy", "fastapi", "pydantic", "starlette", "asyncio", "typing"})


def _rolls_back(function: FunctionNode) -> bool:
    return any(
        isinstance(node, ast.ExceptHandler)
        and any(_calls_method(n, {"rollback"}) for n in ast.walk(node))
        for node in walk_own(function)
    )


def _sessions_roll_back(candidate: Candidate) -> bool:
    """Whether the session dependency ends every request with a rollback on failure:
    it yields a session from `async with` (closing rolls back), or rolls back itself."""
    for file, function in candidate.functions():
        nodes = list(walk_own(function))
        if not any(isinstance(n, ast.Yield | ast.YieldFrom) for n in nodes):
            continue
        if not any(candidate.is_session_factory_call(file, n) for n in nodes):
            continue
        if any(isinstance(n, ast.AsyncWith | ast.With) for n in nodes) or any(
            _calls_method(n, {"rollback", "close"}) for n in nodes
        ):
            return True
    return False
