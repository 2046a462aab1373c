"""The seed's output requirements: only complete, parseable code; no prose, markdown,
setup instructions or documentation outside the code; no comments or docstrings in it.

The seed's own template puts each file in a fence headed by `# models.py`, so fences and
those header lines are the expected format, not markdown to blame."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import PurePosixPath

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import Candidate, PythonFile

_FENCE = re.compile(r"^[ \t]*(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
_HEADER = re.compile(
    r"^\s*#+\s*(?:file(?:name)?\s*:\s*)?[\w./-]+\.(?:py|txt|toml|cfg|ini|env|json|ya?ml)\b.*$", re.I
)
_CODE_FENCE_LANGS = frozenset({"", "python", "py", "python3", "py3"})
_CONFIG_FENCE_LANGS = frozenset(
    {"toml", "ini", "cfg", "env", "dotenv", "yaml", "yml", "json", "text", "txt", "dockerfile"}
)
_PRAGMA = re.compile(r"^#\s*(?:type:|noqa|pragma|fmt:|pylint:|mypy:|ruff:|isort:|-\*-|!)", re.I)
_UNFINISHED = re.compile(r"\b(?:TODO|FIXME|XXX)\b|\.\.\.\s*(?:rest|existing|other|more|same)", re.I)
DOC_SUFFIXES = (".md", ".rst", ".adoc")
EVIDENCE_TEXT = 80


def python_parses(candidate: Candidate) -> Outcome:
    if not candidate.python:
        return Outcome("failed", ("no Python files",))
    return Outcome.from_problems([f.error for f in candidate.python if f.error is not None])


def code_only_response(candidate: Candidate) -> Outcome:
    if candidate.response is None:
        return Outcome("not-applicable", note="no answer text: the files did not come from one")
    return Outcome.from_problems(prose_outside_code(candidate.response))


def prose_outside_code(text: str) -> list[str]:
    """Lines of the response that are not code: prose or markdown outside fences, and
    fences holding no file (shell commands, directory trees, explanations)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not any(_FENCE.match(line) for line in lines):
        return _unfenced_preamble(lines)
    problems: list[str] = []
    marker: str | None = None
    for number, line in enumerate(lines, start=1):
        opening = _FENCE.match(line)
        if marker is None:
            if opening is not None:
                marker = opening["marker"]
                problem = _fence_problem(opening["info"], lines[number:])
                if problem:
                    problems.append(f"response.md:{number} {problem}")
            elif line.strip():
                problems.append(f"response.md:{number} text outside code: {_clip(line)}")
        elif (
            opening is not None
            and opening["marker"][0] == marker[0]
            and not opening["info"].strip()
        ):
            if len(opening["marker"]) >= len(marker):
                marker = None
    return problems


def _fence_problem(info: str, following: list[str]) -> str | None:
    lang = info.strip().split(" ")[0].split(":")[0].lower() if info.strip() else ""
    if lang in _CODE_FENCE_LANGS or "." in info:
        return None
    first = next((line for line in following if line.strip()), "")
    if lang in _CONFIG_FENCE_LANGS and _HEADER.match(first):
        return None
    return f"a {lang or 'plain'} fence that is not a code file (setup or documentation)"


def _unfenced_preamble(lines: list[str]) -> list[str]:
    """Raw code answers (no fences): only text before the first file header is prose."""
    problems = []
    for number, line in enumerate(lines, start=1):
        if _HEADER.match(line) or line.startswith(("import ", "from ")):
            break
        if line.strip():
            problems.append(f"response.md:{number} text outside code: {_clip(line)}")
    return problems


def _clip(line: str) -> str:
    stripped = line.strip()
    return stripped if len(stripped) <= EVIDENCE_TEXT else stripped[:EVIDENCE_TEXT] + "..."


def no_comments(candidate: Candidate) -> Outcome:
    """Comments other than the first-line path header the runtime contract asks for
    (`# models.py`) and tool pragmas."""
    problems = []
    for file in candidate.python:
        for number, comment in _comments(file):
            if number == 1 and _is_path_header(comment, file.path):
                continue
            problems.append(f"{file.path}:{number} comment: {_clip(comment)}")
    return Outcome.from_problems(problems)


def _is_path_header(comment: str, path: str) -> bool:
    named = comment.lstrip("#").strip()
    return named == path or named.endswith("/" + path) or path.endswith("/" + named)


def _comments(file: PythonFile) -> list[tuple[int, str]]:
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(file.text).readline):
            if token.type == tokenize.COMMENT and not _PRAGMA.match(token.string):
                found.append((token.start[0], token.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def no_docstrings(candidate: Candidate) -> Outcome:
    """Docstrings are explanatory text; a route handler's docstring is exempt, since
    FastAPI publishes it as the operation's description ("Clear path operation
    descriptions" in the seed)."""
    handlers = {id(h.function) for h in candidate.route_handlers}
    problems = []
    for file in candidate.parsed:
        for node in ast.walk(file.module):
            if not isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                continue
            if id(node) in handlers or ast.get_docstring(node, clean=False) is None:
                continue
            where = node.body[0]
            name = getattr(node, "name", "module")
            problems.append(f"{file.where(where)} docstring of {name}")
    return Outcome.from_problems(problems)


def no_documentation_files(candidate: Candidate) -> Outcome:
    problems = [
        f"{path}:1 documentation file"
        for path in sorted(candidate.files)
        if path.lower().endswith(DOC_SUFFIXES) or PurePosixPath(path).stem.upper() == "README"
    ]
    return Outcome.from_problems(problems)


def complete_code(candidate: Candidate) -> Outcome:
    """No stub bodies (`pass`, `...`, `raise NotImplementedError`) outside protocols and
    abstract methods, and no TODO/FIXME or `... rest of the code` markers."""
    problems = []
    for file in candidate.python:
        for number, comment in _comments(file):
            if _UNFINISHED.search(comment):
                problems.append(f"{file.path}:{number} unfinished: {_clip(comment)}")
    for file, function in candidate.functions():
        if _is_stub(function) and not _may_be_empty(file, function):
            problems.append(f"{file.where(function)} {function.name}() has no body")
    return Outcome.from_problems(problems)


def _is_stub(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] if len(body) > 1 else []
    if not body:
        return True
    if len(body) != 1:
        return False
    statement = body[0]
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return statement.value.value is Ellipsis
    if isinstance(statement, ast.Raise) and statement.exc is not None:
        raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
        return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
    return False


def _may_be_empty(file: PythonFile, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    decorators = {ast.unparse(d).split("(")[0].rsplit(".", 1)[-1] for d in function.decorator_list}
    if decorators & {"abstractmethod", "overload"}:
        return True
    owner = file.parents.get(function)
    if isinstance(owner, ast.ClassDef):
        bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in owner.bases}
        return bool(bases & {"Protocol", "ABC"})
    return False
