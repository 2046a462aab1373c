"""Passwords hashed with bcrypt or argon2, and never part of a response schema."""

from __future__ import annotations

import ast
import re

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import Candidate, PythonFile, string_value

STRONG_SCHEMES = frozenset({"bcrypt", "bcrypt_sha256", "argon2"})
# Uses of these (or anything inside them) are bcrypt/argon2 hashing.
STRONG_HASHERS = (
    "bcrypt",
    "argon2",
    "passlib.hash.bcrypt",
    "passlib.hash.bcrypt_sha256",
    "passlib.hash.argon2",
)
CRYPT_CONTEXT = ("passlib.context.CryptContext",)
WEAK_HASHES = re.compile(
    r"^hashlib\.(?:md5|sha1|sha224|sha256|sha384|sha512|sha3_\w+|blake2\w|new)$"
)
_PASSWORD = re.compile(r"(?i)passw(?:or)?d|pwd")
_READ_SCHEMA = re.compile(r"(?:Read|Response|Out|Public|Detail|Summary|View)\d*$")
_SENSITIVE_FIELD = re.compile(r"(?i)passw(?:or)?d|secret|^pwd$|_pwd$")


def handles_passwords(candidate: Candidate) -> bool:
    for _, node in candidate.nodes():
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else node.arg
            if isinstance(node, ast.arg)
            else None
        )
        if name is not None and _PASSWORD.search(name):
            return True
    return False


def password_hashing(candidate: Candidate) -> Outcome:
    if not handles_passwords(candidate):
        return Outcome("not-applicable", note="the code handles no passwords")
    strong: list[str] = [
        f"{f.where(node)} {f.qualified(node)}"
        for f, node in candidate.uses(*STRONG_HASHERS)
        if ".exceptions" not in (f.qualified(node) or "")
    ]
    weak: list[str] = []
    for file, call in candidate.calls_to(*CRYPT_CONTEXT):
        schemes = _schemes(call)
        if schemes & STRONG_SCHEMES:
            strong.append(f"{file.where(call)} CryptContext(schemes={sorted(schemes)})")
        else:
            weak.append(f"{file.where(call)} CryptContext without bcrypt/argon2: {sorted(schemes)}")
    for file, node in candidate.nodes():
        if isinstance(node, ast.Call) and WEAK_HASHES.match(file.qualified(node.func) or ""):
            if _about_passwords(file, node):
                weak.append(f"{file.where(node)} {file.qualified(node.func)}() on a password")
    if weak:
        return Outcome.from_problems(weak)
    if not strong:
        return Outcome(
            "failed",
            ("passwords are handled but no bcrypt/argon2 hashing was found (stored as given?)",),
        )
    return Outcome("passed", tuple(sorted(strong)))


def _schemes(call: ast.Call) -> set[str]:
    values = [k.value for k in call.keywords if k.arg == "schemes"] + call.args[:1]
    found: set[str] = set()
    for value in values:
        for node in ast.walk(value):
            text = string_value(node)
            if text is not None:
                found |= {part.strip() for part in text.split(",") if part.strip()}
    return found


def _about_passwords(file: PythonFile, call: ast.Call) -> bool:
    """A weak hash counts when its input or the function around it is about passwords
    (sha256 of a refresh token, say, is fine)."""
    function = file.enclosing_function(call)
    text = ast.unparse(call) + (function.name if function is not None else "")
    return bool(_PASSWORD.search(text))


def no_password_in_responses(candidate: Candidate) -> Outcome:
    schemas = candidate.schema_classes
    if not schemas:
        return Outcome("not-applicable", note="no Pydantic schemas")
    response_names = {name for h in candidate.route_handlers for name in h.response_names}
    roots = {name for name in schemas if name in response_names or _READ_SCHEMA.search(name)}
    problems = []
    for name in sorted(_reachable(candidate, roots)):
        for owner, field in candidate.schema_fields(name):
            assert isinstance(field.target, ast.Name)
            if _SENSITIVE_FIELD.search(field.target.id):
                problems.append(
                    f"{owner.file.where(field)} response schema {name} has field "
                    f"{field.target.id} (from {owner.name})"
                )
    return Outcome.from_problems(problems, note=f"response schemas: {', '.join(sorted(roots))}")


def _reachable(candidate: Candidate, roots: set[str]) -> set[str]:
    """Response schemas and the schemas nested in their fields."""
    seen: set[str] = set()
    pending = sorted(roots)
    while pending:
        name = pending.pop()
        if name in seen or name not in candidate.schema_classes:
            continue
        seen.add(name)
        for _, field in candidate.schema_fields(name):
            nested = {n.id for n in ast.walk(field.annotation) if isinstance(n, ast.Name)}
            pending.extend(sorted(nested - seen))
    return seen
