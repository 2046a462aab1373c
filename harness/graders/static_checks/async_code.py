"""Async all the way: async route handlers, async database access, no blocking calls
inside coroutines, sessions opened in a context manager."""

from __future__ import annotations

import ast

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import (
    ASYNC_SESSION,
    Candidate,
    PythonFile,
    is_session_like,
    session_method_calls,
)

SYNC_ENGINE = ("sqlalchemy.create_engine", "sqlalchemy.engine.create_engine")
SYNC_SESSIONS = (
    "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.Session",
    "sqlalchemy.orm.scoped_session",
    "sqlmodel.Session",
)
SYNC_SESSIONMAKERS = ("sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker")
SYNC_DRIVERS = ("psycopg2", "pymysql", "sqlite3", "mysql.connector", "MySQLdb")
# AsyncSession methods that return a coroutine: calling one without await does nothing.
AWAITABLE_SESSION_METHODS = frozenset(
    {
        "execute",
        "scalar",
        "scalars",
        "get",
        "commit",
        "rollback",
        "flush",
        "refresh",
        "delete",
        "merge",
        "close",
        "stream",
        "stream_scalars",
        "run_sync",
    }
)
BLOCKING_CALLS = {
    "time.sleep": "time.sleep blocks the event loop (use asyncio.sleep)",
    "urllib.request.urlopen": "urllib.request.urlopen is blocking I/O",
    "os.system": "os.system blocks the event loop",
    "subprocess.run": "subprocess.run blocks the event loop",
    "subprocess.call": "subprocess.call blocks the event loop",
    "subprocess.check_output": "subprocess.check_output blocks the event loop",
    "httpx.get": "httpx.get is a blocking HTTP call (use httpx.AsyncClient)",
    "httpx.post": "httpx.post is a blocking HTTP call (use httpx.AsyncClient)",
    "httpx.Client": "httpx.Client is blocking (use httpx.AsyncClient)",
}


def async_handlers(candidate: Candidate) -> Outcome:
    handlers = candidate.route_handlers
    if not handlers:
        return Outcome("not-applicable", note="no route handlers found")
    return Outcome.from_problems(
        [
            f"{h.file.where(h.function)} route handler {h.function.name}() is a plain def"
            for h in handlers
            if not isinstance(h.function, ast.AsyncFunctionDef)
        ]
    )


def async_database_access(candidate: Candidate) -> Outcome:
    if not candidate.imports_module("sqlalchemy") and not any(
        candidate.imports_module(driver) for driver in SYNC_DRIVERS
    ):
        return Outcome("not-applicable", note="no database library imported")
    problems = [
        f"{file.where(call)} sync engine: create_engine()"
        for file, call in candidate.calls_to(*SYNC_ENGINE)
    ]
    for file, call in candidate.calls_to(*SYNC_SESSIONMAKERS):
        makes_async = any(
            keyword.arg == "class_" and file.qualified(keyword.value) in ASYNC_SESSION
            for keyword in call.keywords
        )
        if not makes_async:
            problems.append(f"{file.where(call)} sync sessionmaker() without class_=AsyncSession")
    problems += [
        f"{file.where(node)} sync session: {file.qualified(node)}"
        for file, node in candidate.uses(*SYNC_SESSIONS)
    ]
    for file in candidate.parsed:
        for origin in sorted(set(file.imports.values())):
            if origin.split(".")[0] in SYNC_DRIVERS or origin.startswith("mysql.connector"):
                problems.append(f"{file.path}:1 sync database driver imported: {origin}")
        problems += _unawaited_session_calls(file)
    return Outcome.from_problems(problems)


def _unawaited_session_calls(file: PythonFile) -> list[str]:
    problems = []
    for call in session_method_calls(file.module, AWAITABLE_SESSION_METHODS):
        function = file.enclosing_function(call)
        parent = file.parents.get(call)
        if not isinstance(function, ast.AsyncFunctionDef) or isinstance(
            parent, ast.Await | ast.Return | ast.Lambda
        ):
            continue
        if isinstance(parent, ast.Expr | ast.Assign | ast.AnnAssign):
            assert isinstance(call.func, ast.Attribute)
            problems.append(
                f"{file.where(call)} {ast.unparse(call.func)}() is not awaited "
                "(a sync session, or a coroutine that never runs)"
            )
    return problems


def no_blocking_calls(candidate: Candidate) -> Outcome:
    coroutines = [
        (f, fn) for f, fn in candidate.functions() if isinstance(fn, ast.AsyncFunctionDef)
    ]
    if not coroutines:
        return Outcome("not-applicable", note="no async functions")
    problems = []
    for file, node in candidate.nodes():
        if not isinstance(node, ast.Call):
            continue
        origin = file.qualified(node.func) or ""
        reason = BLOCKING_CALLS.get(origin)
        if reason is None and origin.startswith("requests."):
            reason = f"{origin} is a blocking HTTP call"
        if reason is not None and isinstance(file.enclosing_function(node), ast.AsyncFunctionDef):
            problems.append(f"{file.where(node)} {reason}")
    return Outcome.from_problems(problems)


def sessions_in_context(candidate: Candidate) -> Outcome:
    """Sessions come from `async with factory() as session` (or are closed in a
    `finally`), so a failed request cannot leak a connection or an open transaction."""
    problems = []
    calls = 0
    for file, node in candidate.nodes():
        if not candidate.is_session_factory_call(file, node):
            continue
        assert isinstance(node, ast.Call)
        calls += 1
        parent = file.parents.get(node)
        if isinstance(parent, ast.withitem) or _closed_in_finally(file, node):
            continue
        problems.append(
            f"{file.where(node)} {ast.unparse(node.func)}() outside `async with` "
            "and not closed in a finally"
        )
    if not calls:
        return Outcome("not-applicable", note="no session factory calls found")
    return Outcome.from_problems(problems)


def _closed_in_finally(file: PythonFile, call: ast.Call) -> bool:
    function = file.enclosing_function(call)
    if function is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Try) and node.finalbody:
            for inner in ast.walk(ast.Module(body=node.finalbody, type_ignores=[])):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "close"
                    and is_session_like(inner.func.value)
                ):
                    return True
    return False
