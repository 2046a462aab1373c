"""No hard-coded credentials or database names: database URLs and secrets come from the
environment. A URL made only of placeholders (`user:password@localhost/dbname`) is what
the seed asks for ("use generic connection strings or placeholders") and passes."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import Candidate, PythonFile, string_value

_DB_URL = re.compile(
    r"(?P<scheme>(?:postgres(?:ql)?|mysql|mariadb|sqlite|mssql|oracle)(?:\+\w+)?)://"
    r"(?P<rest>[^\s'\"`]*)",
    re.I,
)
_AUTHORITY = re.compile(
    r"(?:(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@)?(?P<host>[^/:?]*)(?::[^/?]*)?"
    r"(?:/(?P<database>[^?]*))?"
)
PLACEHOLDER_WORDS = frozenset(
    {
        "",
        "user",
        "username",
        "usr",
        "dbuser",
        "db_user",
        "password",
        "pass",
        "passwd",
        "pwd",
        "dbpass",
        "db_password",
        "secret",
        "host",
        "hostname",
        "server",
        "localhost",
        "127.0.0.1",
        "0.0.0.0",
        "port",
        "db",
        "dbname",
        "db_name",
        "database",
        "database_name",
        "databasename",
        "name",
        "schema",
    }
)
_PLACEHOLDER_SHAPES = re.compile(
    r"^(?:<[^>]*>|\{[^}]*\}|\$\{?[^}]*\}?|%\([^)]*\)s|\*+|x{3,}|\.{3}|(?:your|my)_?\w*|.*_here)$",
    re.I,
)
_SECRET_NAME = re.compile(
    r"(?i)(secret|passw(?:or)?d|passwd|api_?key|private_?key|signing_?key|jwt_?key"
    r"|access_?key|auth_?token|client_?secret|credentials?)"
)
# Names that hold something about a secret, not the secret: a message, a pattern...
_NOT_A_SECRET_NAME = re.compile(
    r"(?i)(?:^|_)(?:regex|pattern|re|message|msg|error|detail|field|url|uri|path|prefix"
    r"|scheme|schemes|algorithm|alg|length|len|header|name|env|var|type|label|hint"
    r"|description|template|policy|rule|min|max)$"
)
# Values that are names of things, not secrets: env var names, algorithm/scheme names,
# hashes (a dummy hash for constant-time login is not a credential).
_NOT_A_SECRET = re.compile(
    r"^(?:[A-Z][A-Z0-9_]*|HS\d+|RS\d+|ES\d+|bcrypt|argon2\w*|scrypt|pbkdf2\w*|sha\d+\w*"
    r"|bearer|basic|password|\$2[aby]?\$.*|\$argon2.*)$"
)
ENV_GETTERS = ("os.getenv", "os.environ.get", "os.environ.setdefault", "environ.get")
JWT_CALLS = ("jwt.encode", "jwt.decode", "jose.jwt.encode", "jose.jwt.decode")
CONFIG_SUFFIXES = (".env", ".ini", ".cfg", ".toml", ".yaml", ".yml", ".json", ".txt", ".conf")


def is_placeholder(value: str) -> bool:
    cleaned = value.strip().strip("'\"")
    return cleaned.lower() in PLACEHOLDER_WORDS or bool(_PLACEHOLDER_SHAPES.match(cleaned))


def url_problem(url: str) -> str | None:
    """What makes a database URL concrete, or None when it is generic."""
    match = _DB_URL.search(url)
    if match is None:
        return None
    scheme, rest = match["scheme"].lower(), match["rest"]
    if scheme.startswith("sqlite"):
        database = rest.lstrip("/")
        return f"names a database file {database!r}" if not is_placeholder(database) else None
    parts = _AUTHORITY.match(rest)
    if parts is None:
        return None
    concrete = []
    if parts["password"] is not None and not is_placeholder(parts["password"]):
        concrete.append("a password")
    if parts["database"] and not is_placeholder(parts["database"]):
        concrete.append(f"database name {parts['database']!r}")
    if parts["host"] and not is_placeholder(parts["host"]) and "." in parts["host"]:
        concrete.append(f"host {parts['host']!r}")
    return " and ".join(concrete) or None


def _literal_text(node: ast.AST) -> str | None:
    """A string literal, or an f-string with each interpolation shown as `{}`."""
    text = string_value(node)
    if text is not None:
        return text
    if isinstance(node, ast.JoinedStr):
        return "".join(string_value(part) or "{}" for part in node.values)
    return None


def hardcoded_database_urls(candidate: Candidate) -> Outcome:
    problems = []
    for file, node in candidate.nodes():
        if isinstance(file.parents.get(node), ast.JoinedStr):
            continue
        text = _literal_text(node)
        if text is None:
            continue
        problem = url_problem(text)
        if problem is not None:
            problems.append(f"{file.where(node)} database URL with {problem}: {_mask(text)}")
    for path in sorted(candidate.files):
        if path.endswith(".py") or not _is_config(path):
            continue
        for number, line in enumerate(candidate.files[path].splitlines(), start=1):
            problem = url_problem(line)
            if problem is not None:
                problems.append(f"{path}:{number} database URL with {problem}: {_mask(line)}")
    return Outcome.from_problems(problems)


def _is_config(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.startswith(".env") or name.endswith(CONFIG_SUFFIXES) or name == "Dockerfile"


def _mask(text: str) -> str:
    """Evidence without the secret itself: the password part of a URL is starred."""
    masked = re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", r"\1***@", text.strip())
    return masked[:120]


def hardcoded_secrets(candidate: Candidate) -> Outcome:
    problems = []
    for file, node in candidate.nodes():
        problems += _secret_assignments(file, node)
        if isinstance(node, ast.Call):
            problems += _secret_arguments(file, node)
    return Outcome.from_problems(problems)


def _secret_assignments(file: PythonFile, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return []
    secret = _literal_secret(value)
    if secret is None:
        return []
    return [
        f"{file.where(node)} {name} = a literal secret"
        for target in targets
        if (name := _target_name(target)) and _names_a_secret(name)
    ]


def _names_a_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_A_SECRET_NAME.search(name)


def _secret_arguments(file: PythonFile, call: ast.Call) -> list[str]:
    origin = file.qualified(call.func) or ""
    problems = []
    if origin in ENV_GETTERS and len(call.args) >= 2:
        name = string_value(call.args[0]) or ""
        if _names_a_secret(name) and _literal_secret(call.args[1]) is not None:
            problems.append(f"{file.where(call)} {origin}({name!r}, <literal default secret>)")
    if origin in JWT_CALLS and len(call.args) >= 2 and _literal_secret(call.args[1]):
        problems.append(f"{file.where(call)} {origin}() signs with a literal key")
    for keyword in call.keywords:
        if keyword.arg and _names_a_secret(keyword.arg) and _literal_secret(keyword.value):
            problems.append(f"{file.where(call)} {keyword.arg}=<literal secret>")
    return problems


def _target_name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _literal_secret(node: ast.AST) -> str | None:
    """A string literal that could be a secret. Placeholders do not excuse it here: a
    default `"your-secret-key-here"` signs real tokens when the variable is unset. Text
    with spaces is a message, not a key."""
    text = string_value(node)
    if text is None or len(text) < 4 or any(c.isspace() for c in text):
        return None
    if _NOT_A_SECRET.match(text) or _DB_URL.search(text):
        return None
    return text
