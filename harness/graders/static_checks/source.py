"""A candidate's files parsed once, and the facts several checks share about them."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from harness.graders.python_ast import parse_python
from harness.graders.static_checks.ruff import RuffReport, run_ruff

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route"}
)
WRITE_ROUTE_METHODS = frozenset({"put", "patch"})
SESSIONMAKERS = (
    "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.session.sessionmaker",
    "sqlalchemy.ext.asyncio.async_sessionmaker",
)
ASYNC_SESSION = ("sqlalchemy.ext.asyncio.AsyncSession",)
# The receiver of a database call, by its last name: session, db, db_session, self.db...
_SESSION_NAME = re.compile(
    r"(?i)^_?(?:db|session|sess|conn|connection|tx|transaction|uow)$|_(?:db|session|sess|conn)$"
)


@dataclass(frozen=True)
class PythonFile:
    path: str
    text: str
    tree: ast.Module | None
    error: str | None

    @property
    def module(self) -> ast.Module:
        """The parsed module; only call on files of `Candidate.parsed`."""
        if self.tree is None:
            raise ValueError(f"{self.path} did not parse: {self.error}")
        return self.tree

    def where(self, node: ast.AST | int) -> str:
        line = node if isinstance(node, int) else getattr(node, "lineno", 0)
        return f"{self.path}:{line}"

    @cached_property
    def parents(self) -> dict[ast.AST, ast.AST]:
        found: dict[ast.AST, ast.AST] = {}
        if self.tree is not None:
            for node in ast.walk(self.tree):
                for child in ast.iter_child_nodes(node):
                    found[child] = node
        return found

    @cached_property
    def imports(self) -> dict[str, str]:
        """Local name -> what it names: `from sqlalchemy import select as s` gives
        s -> sqlalchemy.select; `import sqlalchemy as sa` gives sa -> sqlalchemy."""
        names: dict[str, str] = {}
        if self.tree is None:
            return names
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    names[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return names

    def qualified(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to, through this file's imports."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        origin = self.imports.get(head)
        if origin is None:
            return dotted
        return f"{origin}.{rest}" if rest else origin

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
                return current
            current = self.parents.get(current)
        return None

    def inside(self, node: ast.AST, kinds: tuple[type[ast.AST], ...], stop: ast.AST) -> bool:
        """Whether `node` sits within a node of one of `kinds` below `stop`."""
        current = self.parents.get(node)
        while current is not None and current is not stop:
            if isinstance(current, kinds):
                return True
            current = self.parents.get(current)
        return False


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def terminal_name(node: ast.AST) -> str | None:
    """The last name of a receiver: `session`, `self.db` -> `db`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def is_session_like(node: ast.AST) -> bool:
    name = terminal_name(node)
    return name is not None and _SESSION_NAME.search(name) is not None


def session_method_calls(tree: ast.AST, methods: frozenset[str]) -> Iterator[ast.Call]:
    """Calls such as `session.commit()` or `self.db.add(x)` on a session-like receiver."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in methods
            and is_session_like(node.func.value)
        ):
            yield node


def walk_own(function: FunctionNode) -> Iterator[ast.AST]:
    """Nodes of a function's body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(reversed(function.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def string_value(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def names_in(node: ast.AST | None) -> set[str]:
    """Every plain name in an expression: `list[Page[UserRead]]` -> list, Page, UserRead."""
    if node is None:
        return set()
    found = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    for constant in ast.walk(node):
        text = string_value(constant)
        if text is not None:
            found |= set(re.findall(r"[A-Za-z_]\w*", text))
    return found


@dataclass(frozen=True)
class RouteHandler:
    file: PythonFile
    function: FunctionNode
    method: str
    response_names: frozenset[str]


@dataclass(frozen=True)
class SchemaClass:
    file: PythonFile
    node: ast.ClassDef

    @property
    def name(self) -> str:
        return self.node.name

    def fields(self) -> list[ast.AnnAssign]:
        return [
            item
            for item in self.node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
        ]


@dataclass
class Candidate:
    """Everything the static checks read: files, parsed Python, the raw response."""

    files: Mapping[str, str]
    response: str | None = None
    python: list[PythonFile] = field(init=False)

    def __post_init__(self) -> None:
        self.python = [
            _parse(path, self.files[path]) for path in sorted(self.files) if path.endswith(".py")
        ]

    @cached_property
    def lint(self) -> RuffReport | None:
        """ruff's findings on the Python files (run once, on first use)."""
        return run_ruff(self.files)

    @property
    def parsed(self) -> list[PythonFile]:
        return [f for f in self.python if f.tree is not None]

    def nodes(self) -> Iterator[tuple[PythonFile, ast.AST]]:
        for file in self.parsed:
            for node in ast.walk(file.module):
                yield file, node

    def functions(self) -> Iterator[tuple[PythonFile, FunctionNode]]:
        for file, node in self.nodes():
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield file, node

    def classes(self) -> Iterator[tuple[PythonFile, ast.ClassDef]]:
        for file, node in self.nodes():
            if isinstance(node, ast.ClassDef):
                yield file, node

    @cached_property
    def route_handlers(self) -> list[RouteHandler]:
        """Functions decorated `@<router>.get(...)` and friends, or given to add_api_route."""
        handlers: list[RouteHandler] = []
        named: set[str] = set()
        for _, node in self.nodes():
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_api_route"
            ):
                endpoint = node.args[1] if len(node.args) > 1 else None
                for keyword in node.keywords:
                    if keyword.arg == "endpoint":
                        endpoint = keyword.value
                if isinstance(endpoint, ast.Name):
                    named.add(endpoint.id)
        for file, function in self.functions():
            for decorator in function.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in ROUTE_METHODS
                ):
                    response = next(
                        (k.value for k in decorator.keywords if k.arg == "response_model"), None
                    )
                    handlers.append(
                        RouteHandler(
                            file,
                            function,
                            decorator.func.attr,
                            frozenset(names_in(response) | names_in(function.returns)),
                        )
                    )
                    break
            else:
                if function.name in named:
                    handlers.append(
                        RouteHandler(
                            file, function, "api_route", frozenset(names_in(function.returns))
                        )
                    )
        return handlers

    @cached_property
    def schema_classes(self) -> dict[str, SchemaClass]:
        """Pydantic models: subclasses of BaseModel (or BaseSettings excluded), directly
        or through other schema classes of the candidate."""
        classes = {node.name: SchemaClass(file, node) for file, node in self.classes()}
        schemas: dict[str, SchemaClass] = {}
        changed = True
        while changed:
            changed = False
            for name, schema in classes.items():
                if name in schemas:
                    continue
                for base in schema.node.bases:
                    origin = schema.file.qualified(base) or ""
                    if origin in ("pydantic.BaseModel", "pydantic.main.BaseModel") or (
                        isinstance(base, ast.Name) and base.id in schemas
                    ):
                        schemas[name] = schema
                        changed = True
                        break
        return dict(sorted(schemas.items()))

    def schema_fields(
        self, name: str, seen: frozenset[str] = frozenset()
    ) -> list[tuple[SchemaClass, ast.AnnAssign]]:
        """A schema's own fields and those it inherits from schema classes."""
        schema = self.schema_classes.get(name)
        if schema is None or name in seen:
            return []
        found = [(schema, item) for item in schema.fields()]
        for base in schema.node.bases:
            if isinstance(base, ast.Name):
                found += self.schema_fields(base.id, seen | {name})
        return found

    def uses(self, *qualified: str) -> list[tuple[PythonFile, ast.AST]]:
        """Outermost names or attribute chains referring to one of `qualified` or to
        something inside it (`bcrypt.hashpw` counts as a use of `bcrypt`)."""
        hits: list[tuple[PythonFile, ast.AST]] = []
        for file, node in self.nodes():
            if not isinstance(node, ast.Name | ast.Attribute):
                continue
            parent = file.parents.get(node)
            if isinstance(parent, ast.Attribute) and parent.value is node:
                continue
            origin = file.qualified(node) or ""
            if any(origin == q or origin.startswith(q + ".") for q in qualified):
                hits.append((file, node))
        return hits

    def calls_to(self, *qualified: str) -> list[tuple[PythonFile, ast.Call]]:
        wanted = set(qualified)
        return [
            (file, node)
            for file, node in self.nodes()
            if isinstance(node, ast.Call) and file.qualified(node.func) in wanted
        ]

    @cached_property
    def session_factories(self) -> frozenset[str]:
        """Names bound to a sessionmaker: `SessionLocal = async_sessionmaker(engine)`."""
        names: set[str] = set()
        for file, node in self.nodes():
            targets: list[ast.expr]
            value: ast.expr | None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            else:
                continue
            if isinstance(value, ast.Call) and file.qualified(value.func) in SESSIONMAKERS:
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
        return frozenset(names)

    def is_session_factory_call(self, file: PythonFile, node: ast.AST) -> bool:
        """`SessionLocal()` for a sessionmaker name, or `AsyncSession(engine)`."""
        if not isinstance(node, ast.Call):
            return False
        if isinstance(node.func, ast.Name) and node.func.id in self.session_factories:
            return True
        return file.qualified(node.func) in ASYNC_SESSION

    def imports_module(self, prefix: str) -> bool:
        return any(
            origin == prefix or origin.startswith(prefix + ".")
            for file in self.parsed
            for origin in file.imports.values()
        )


def _parse(path: str, text: str) -> PythonFile:
    try:
        tree = parse_python(text, filename=path)
    except SyntaxError as exc:
        return PythonFile(path, text, None, f"{path}:{exc.lineno or 0} {exc.msg}")
    except ValueError as exc:
        return PythonFile(path, text, None, f"{path}:0 {exc}")
    return PythonFile(path, text, tree, None)
