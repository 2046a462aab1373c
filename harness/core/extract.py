"""Turn a model's Markdown answer into the source files it describes.

The seed prompt asks for code only, one module per ``# models.py`` header, but real
answers vary. ``extract_files`` recognises these shapes (the ``shape`` field):

``file-comment-fences``
    Each fence starts with a header comment naming its file: ``# models.py``,
    ``#app/models.py``, ``# File: models.py``, ``# --- models.py ---``,
    ``# models.py - SQLAlchemy models`` or ``\"\"\"models.py\"\"\"``.
``heading-fences``
    A label right before the fence names the file: ``### models.py``,
    ``## `routes.py```, ``**schemas.py**``, ``**File: main.py**``, ``models.py:``,
    ``### 1. models.py``, ``### Database models (`models.py`)``, or a prose line
    ending in a colon that mentions exactly one file (``Create `models.py`:``).
``info-string-fences``
    The fence's info string names the file: ````python:models.py``,
    ````python title="models.py"``, ````models.py``.
``multi-file-fence``
    One fence holds several files separated by header comment lines.
``single-unlabelled``
    The answer's only code is one unnamed Python fence; it becomes ``main.py``.
``unlabelled-app-fence``
    Several unnamed Python fences; the last one defining ``app = FastAPI(`` becomes
    ``main.py`` and the others are reported as ignored.
``unfenced-multi-file`` / ``unfenced-single``
    No fences at all (the seed says "no markdown"): header comment lines split
    the raw text, or raw Python code becomes ``main.py``.
``mixed``
    Files were named in more than one of the ways above.
``ambiguous-unlabelled``
    Unnamed Python fences exist but none could be chosen as ``main.py``.
``no-code``
    Nothing that looks like code (a refusal, prose, only shell commands).

A header line is a comment that is only a file path (optionally followed by a
``-``/``:``/``(`` description) whose name ends in .py, .txt, .toml, .cfg, .ini,
.env, .md, .json, .yaml or .yml, or is ``Dockerfile``/``.env*``. Shell fences
(```` ```bash ````) and unnamed non-Python fences are ignored. Paths that are
absolute, contain ``..`` or backslashes are skipped and reported. Every file's
content ends with exactly one newline, except empty files, which stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict


class Shape(StrEnum):
    """The recognised answer layouts; the module docstring describes each one."""

    FILE_COMMENT = "file-comment-fences"
    HEADING = "heading-fences"
    INFO_STRING = "info-string-fences"
    MULTI_FILE = "multi-file-fence"
    SINGLE_UNLABELLED = "single-unlabelled"
    UNLABELLED_APP = "unlabelled-app-fence"
    UNFENCED_MULTI_FILE = "unfenced-multi-file"
    UNFENCED_SINGLE = "unfenced-single"
    MIXED = "mixed"
    AMBIGUOUS = "ambiguous-unlabelled"
    NO_CODE = "no-code"


class ExtractedFiles(BaseModel):
    """The files found in one answer, plus what a reviewer should know about them."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, str]
    shape: str
    truncated: bool
    problems: list[str]


_FILE_NAME = re.compile(r"[\w.-]*[\w-]\.(?:py|txt|toml|cfg|ini|env|md|json|ya?ml)")
_TOKEN_CHARS = re.compile(r"[\w./\\:~-]+")
_KNOWN_NAMES = frozenset({"Dockerfile", ".env"})
_SAFE_PART = re.compile(r"[\w.-]+")

_OPEN_FENCE = re.compile(r"(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)")
_INFO_PATH = re.compile(r"""\b(?:title|file(?:name)?|path)\s*=\s*["']?(?P<path>[^"'\s}]+)""", re.I)
_COMMENT_HEADER = re.compile(r"#+\s*(?P<body>.*)")
_DOCSTRING_HEADER = re.compile(r"(?P<quote>\"\"\"|''')\s*(?P<body>\S+)\s*(?P=quote)\s*")
_PATH_PREFIX = re.compile(r"(?:file(?:name)?|path|module)\s*:\s*", re.I)
_HEADING = re.compile(r"#{1,6}\s+(?P<text>.*?)[\s#]*")
_LIST_MARKER = re.compile(r"(?:[-*+]\s+|(?:step\s+)?\d+[.):]\s*)", re.I)
_BOLD_LINE = re.compile(r"\*\*.+\*\*:?")
_CODE_LINE = re.compile(
    r"\s*(?:from\s+[\w.]+\s+import\s|import\s+\w|(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[(:]|@\w)"
)
_IMPORT_LINE = re.compile(r"(?:from\s+[\w.]+\s+import\s|import\s+\w)")
_DEFINITION_LINE = re.compile(r"(?:(?:async\s+)?def|class)\s+\w+")
_APP_LINE = re.compile(r"^\s*\w+\s*(?::\s*[\w.]+\s*)?=\s*(?:fastapi\.)?FastAPI\(", re.M)

_DESCRIPTION_STARTS = ("-", "\u2013", "\u2014", ":", "(")
_DECORATION = "-=* \t"
_QUOTES = "`'\"()[],;:"
_PYTHON_LANGS = frozenset({"python", "py", "python3", "py3"})
_SHELL_LANGS = frozenset(
    {"bash", "sh", "shell", "console", "shell-session", "zsh", "powershell", "ps1", "pwsh", "cmd"}
)
_MARKDOWN_LANGS = frozenset({"md", "markdown"})


@dataclass(frozen=True)
class _Fence:
    number: int
    info: str
    body: tuple[str, ...]
    closed: bool
    prose: tuple[str, ...]


@dataclass(frozen=True)
class _Block:
    fence: int
    path: str | None
    lines: tuple[str, ...]
    method: Shape


@dataclass
class _Result:
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    methods: list[Shape] = field(default_factory=list)
    truncated: bool = False
    ambiguous: bool = False

    def add(self, block: _Block) -> None:
        """Store a named block, refusing paths that could escape the workspace."""
        self.methods.append(block.method)
        raw = block.path or ""
        reason = _unsafe_reason(raw)
        if reason is not None:
            self.problems.append(f"skipped unsafe path {raw!r}: {reason}")
            return
        path = _normalise_path(raw)
        if path in self.files:
            self.problems.append(f"duplicate file {path!r}: the later version replaces the earlier")
        self.files[path] = _content(block.lines)

    def finish(self) -> ExtractedFiles:
        """Freeze the result, naming the shape from how the files were named."""
        shape = _shape(self.methods, self.ambiguous)
        if shape is Shape.NO_CODE:
            self.problems.append("no code found in the answer")
        return ExtractedFiles(
            files=self.files, shape=shape.value, truncated=self.truncated, problems=self.problems
        )


def extract_files(text: str) -> ExtractedFiles:
    """Split a model's answer into files so the harness can write and run them."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fences = _scan(lines)
    result = _Result()
    if fences:
        _collect_fenced(fences, result)
    else:
        _collect_unfenced(lines, result)
    return result.finish()


def render_files_as_response(files: Mapping[str, str]) -> str:
    """Render files the way the seed prompt asks an agent to answer.

    The ``reference`` provider uses this so that reference solutions travel through
    the same extraction path as model answers; ``extract_files`` inverts it for
    normalised contents (no leading blank lines, one trailing newline or empty).
    """
    return "\n".join(_render_file(path, files[path]) for path in sorted(files, key=_render_rank))


def _scan(lines: Sequence[str]) -> list[_Fence]:
    """Find fenced blocks CommonMark-style, keeping the prose that precedes each one."""
    fences: list[_Fence] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = _OPEN_FENCE.fullmatch(lines[index])
        if opening is None or (opening["marker"][0] == "`" and "`" in opening["info"]):
            prose.append(lines[index])
            index += 1
            continue
        end = _closing_index(lines, index + 1, opening["marker"])
        indent = len(opening["indent"])
        body = tuple(_dedent(line, indent) for line in lines[index + 1 : end])
        number = len(fences) + 1
        fences.append(_Fence(number, opening["info"].strip(), body, end < len(lines), tuple(prose)))
        prose = []
        index = end + 1
    return fences


def _closing_index(lines: Sequence[str], start: int, marker: str) -> int:
    """Return where the fence closes, or ``len(lines)`` when the answer was cut off."""
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if len(stripped) >= len(marker) and set(stripped) == {marker[0]}:
            return index
    return len(lines)


def _dedent(line: str, indent: int) -> str:
    """Remove a list-item fence's indentation so nested code keeps its own."""
    width = len(line) - len(line.lstrip(" \t"))
    return line[min(width, indent) :]


def _collect_fenced(fences: Sequence[_Fence], result: _Result) -> None:
    """Name every fence, then let unnamed Python fences compete for ``main.py``."""
    unlabelled: list[_Block] = []
    for fence in fences:
        blocks = _fence_blocks(fence, result.problems)
        for block in blocks:
            if block.path is None:
                unlabelled.append(block)
            else:
                result.add(block)
        if not fence.closed:
            result.truncated = True
            result.problems.append(_truncation_note(fence, blocks))
    _adopt_unlabelled(unlabelled, result)


def _collect_unfenced(lines: Sequence[str], result: _Result) -> None:
    """Handle answers that obeyed "no markdown" literally and sent raw code."""
    preamble, sections = _split_sections(lines, split=True)
    if sections:
        if _has_content(preamble):
            result.problems.append(f"dropped {len(preamble)} line(s) before the first file header")
        for path, body in sections:
            result.add(_Block(0, path, tuple(body), Shape.UNFENCED_MULTI_FILE))
    elif _looks_like_module(lines):
        result.add(_Block(0, "main.py", tuple(lines), Shape.UNFENCED_SINGLE))


def _fence_blocks(fence: _Fence, problems: list[str]) -> list[_Block]:
    """Turn one fence into named blocks, one unnamed Python block, or nothing."""
    lang, info_path = _parse_info(fence.info)
    label = info_path or _prose_label(fence.prose, allow_weak=lang not in _SHELL_LANGS)
    preamble, sections = _split_sections(fence.body, split=lang not in _MARKDOWN_LANGS)
    if sections:
        return _header_blocks(fence, label, preamble, sections, problems)
    if label is not None:
        method = Shape.INFO_STRING if info_path else Shape.HEADING
        return [_Block(fence.number, label, fence.body, method)]
    if _looks_like_python(lang, fence.body):
        return [_Block(fence.number, None, fence.body, Shape.SINGLE_UNLABELLED)]
    return []


def _header_blocks(
    fence: _Fence,
    label: str | None,
    preamble: list[str],
    sections: list[tuple[str, list[str]]],
    problems: list[str],
) -> list[_Block]:
    """Build blocks for a fence split by header comments; code before the first header
    belongs to the fence's label if it has one, and is reported as dropped otherwise."""
    named = list(sections)
    if _has_content(preamble):
        if label is not None:
            named.insert(0, (label, preamble))
        else:
            problems.append(
                f"dropped {len(preamble)} line(s) before the first file header "
                f"in fence #{fence.number}"
            )
    method = Shape.MULTI_FILE if len(named) > 1 else Shape.FILE_COMMENT
    return [_Block(fence.number, path, tuple(body), method) for path, body in named]


def _split_sections(
    lines: Sequence[str], *, split: bool
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Cut lines at header comments; Markdown files only honour a header on top,
    since their ``# Title`` lines are headings, not file separators."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        may_be_header = split or (not sections and not _has_content(preamble))
        path = _header_path(line) if may_be_header else None
        if path is not None:
            sections.append((path, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return preamble, sections


def _header_path(line: str) -> str | None:
    """Return the path a header comment names, or None for an ordinary comment.

    Only a comment that is just a path (plus an optional ``- description``)
    counts, so ``# create the models`` or ``# routes.py or routers/`` stay code.
    A bare ``# File:`` yields an empty path, which is then reported as unsafe.
    """
    match = _COMMENT_HEADER.fullmatch(line) or _DOCSTRING_HEADER.fullmatch(line)
    if match is None:
        return None
    body = match["body"].strip(_DECORATION)
    if _PATH_PREFIX.fullmatch(body + " "):
        return ""
    token, _, rest = _PATH_PREFIX.sub("", body, count=1).partition(" ")
    described = token.endswith(":") or rest.strip().startswith(_DESCRIPTION_STARTS)
    path = _unquote(token)
    if (rest.strip() and not described) or not _is_file_token(path):
        return None
    return path


def _parse_info(info: str) -> tuple[str, str | None]:
    """Split a fence info string into its language and any file name it carries."""
    words = info.replace("{", " ").split()
    first = words[0] if words else ""
    lang, _, after_colon = first.partition(":")
    attribute = _INFO_PATH.search(info)
    candidates = [attribute["path"] if attribute else "", after_colon, lang]
    path = next((candidate for candidate in candidates if _is_file_token(candidate)), None)
    if path == lang:
        lang = ""
    return lang.lower(), path


def _prose_label(prose: Sequence[str], *, allow_weak: bool) -> str | None:
    """Find the file name that the text just before a fence gives it.

    The nearest heading, bold line or bare file name decides, so a section title
    further up cannot name a fence in a later section. A plain sentence counts
    only when it is the last line before the fence and ends with a colon; shell
    fences ignore such sentences ("Install from requirements.txt:").
    """
    lines = [line.strip() for line in prose if line.strip()]
    for distance, line in enumerate(reversed(lines)):
        text, strong = _label_text(line)
        if strong:
            return _strong_label(text)
        if distance == 0 and allow_weak and line.endswith(":"):
            weak = _single_path(line)
            if weak is not None:
                return weak
    return None


def _label_text(line: str) -> tuple[str, bool]:
    """Strip Markdown decoration from a label line and say whether it is a label line."""
    heading = _HEADING.fullmatch(line)
    text = _LIST_MARKER.sub("", heading["text"] if heading else line, count=1)
    bold = _BOLD_LINE.fullmatch(text) is not None
    text = text.replace("**", "").strip().rstrip(":").strip()
    prefixed = _PATH_PREFIX.match(text) is not None
    text = _PATH_PREFIX.sub("", text, count=1)
    return text, bool(heading) or bold or prefixed or _leading_path(text) is not None


def _strong_label(text: str) -> str | None:
    """Read the file name from a heading like ``models.py - models`` or ``Models (`models.py`)``."""
    return _leading_path(text) or _single_path(text)


def _leading_path(text: str) -> str | None:
    """Return the path a line starts with when the rest is only a description."""
    token, _, rest = text.partition(" ")
    path = _unquote(token)
    if _is_file_token(path) and (not rest.strip() or rest.strip().startswith(_DESCRIPTION_STARTS)):
        return path
    return None


def _single_path(text: str) -> str | None:
    """Return the one file a line mentions; a line naming several files names none."""
    paths = {_unquote(word) for word in text.split()}
    found = sorted(path for path in paths if _is_file_token(path))
    return found[0] if len(found) == 1 else None


def _unquote(token: str) -> str:
    """Remove quotes, backticks, brackets and sentence punctuation around a path."""
    return token.strip(_QUOTES).strip("*").strip(_QUOTES).rstrip(".")


def _is_file_token(token: str) -> bool:
    """Say whether a word is a path to a file the harness knows how to keep.

    Unsafe spellings (absolute, ``..``, backslashes) still count here so that
    they can be reported instead of silently treated as prose.
    """
    if not _TOKEN_CHARS.fullmatch(token):
        return False
    name = re.split(r"[/\\]", token)[-1]
    return bool(_FILE_NAME.fullmatch(name)) or name in _KNOWN_NAMES or name.startswith(".env.")


def _unsafe_reason(raw: str) -> str | None:
    """Explain why writing this path could land outside the workspace, if it could."""
    parts = raw.split("/")
    if not raw.strip() or not parts[-1]:
        return "the file name is empty"
    if "\\" in raw:
        return "it contains a backslash"
    if raw.startswith(("/", "~")) or re.match(r"[A-Za-z]:", raw):
        return "it is absolute"
    if ".." in parts:
        return "it has a '..' component"
    if not all(_SAFE_PART.fullmatch(part) for part in parts if part):
        return "it has characters outside [A-Za-z0-9_.-/]"
    return None


def _normalise_path(raw: str) -> str:
    """Drop ``.`` and empty components so ``./models.py`` and ``models.py`` are one file."""
    return "/".join(part for part in raw.split("/") if part not in ("", "."))


def _content(lines: Sequence[str]) -> str:
    """Trim blank lines around a file and end it with exactly one newline."""
    body = re.sub(r"\A(?:[ \t]*\n)+", "", "\n".join(lines).rstrip())
    return body + "\n" if body else ""


def _has_content(lines: Sequence[str]) -> bool:
    """Say whether any line holds more than whitespace."""
    return any(line.strip() for line in lines)


def _looks_like_python(lang: str, body: Sequence[str]) -> bool:
    """Accept python fences, and unlabelled ones only if they read as Python,
    so directory trees and sample output are not mistaken for ``main.py``."""
    if lang in _PYTHON_LANGS:
        return _has_content(body)
    return lang == "" and any(_CODE_LINE.match(line) for line in body)


def _looks_like_module(lines: Sequence[str]) -> bool:
    """Demand imports plus a definition before treating fence-less text as code."""
    has_import = any(_IMPORT_LINE.match(line) for line in lines)
    has_body = any(_DEFINITION_LINE.match(line) for line in lines)
    return has_import and (has_body or _APP_LINE.search("\n".join(lines)) is not None)


def _adopt_unlabelled(candidates: Sequence[_Block], result: _Result) -> None:
    """Decide which unnamed Python fence, if any, is ``main.py``.

    A lone unnamed fence in an answer without named files is the whole app.
    Otherwise the last fence that creates ``app = FastAPI(`` wins (answers that
    iterate usually end with the complete version), unless a main.py exists.
    """
    if not candidates:
        return
    if not result.methods and len(candidates) == 1:
        result.add(replace(candidates[0], path="main.py"))
        return
    has_main = any(PurePosixPath(path).name == "main.py" for path in result.files)
    apps = [block for block in candidates if _APP_LINE.search("\n".join(block.lines))]
    chosen = apps[-1] if apps and not has_main else None
    for block in candidates:
        if block is not chosen:
            result.problems.append(
                f"ignored python fence #{block.fence} without a file name "
                f"({len(block.lines)} line(s))"
            )
    if chosen is not None:
        result.add(replace(chosen, path="main.py", method=Shape.UNLABELLED_APP))
    result.ambiguous = chosen is None and not result.methods


def _truncation_note(fence: _Fence, blocks: Sequence[_Block]) -> str:
    """Describe the cut-off fence so a reviewer knows which file is incomplete."""
    names = ", ".join(block.path or "unnamed" for block in blocks) or "ignored"
    return f"the answer ends inside an unclosed fence (#{fence.number}, {names}): it was cut off"


def _shape(methods: Sequence[Shape], ambiguous: bool) -> Shape:
    """Name the answer's shape after the ways its files were named."""
    distinct = set(methods)
    if len(distinct) == 1:
        return distinct.pop()
    if distinct:
        return Shape.MIXED
    return Shape.AMBIGUOUS if ambiguous else Shape.NO_CODE


_RENDER_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"models", "model"}),
    frozenset({"schemas", "schema"}),
    frozenset({"database", "db", "session"}),
    frozenset({"dependencies", "deps"}),
    frozenset({"routes", "routers", "router", "api", "endpoints"}),
    frozenset({"services", "service", "crud"}),
)
_FENCE_LANGS = {
    ".py": "python",
    ".toml": "toml",
    ".cfg": "ini",
    ".ini": "ini",
    ".env": "ini",
    ".md": "markdown",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}


def _render_rank(path: str) -> tuple[int, str]:
    """Order files as the seed template does: models first, main.py last."""
    posix = PurePosixPath(path)
    if posix.name == "main.py":
        return len(_RENDER_GROUPS) + 1, path
    for name in (posix.stem, *reversed(posix.parent.parts)):
        for rank, group in enumerate(_RENDER_GROUPS):
            if name in group:
                return rank, path
    return len(_RENDER_GROUPS), path


def _render_file(path: str, content: str) -> str:
    """Render one file as a fence long enough to hold any fence inside it."""
    name = PurePosixPath(path).name
    lang = "ini" if name.startswith(".env") else _FENCE_LANGS.get(PurePosixPath(path).suffix)
    if name == "Dockerfile":
        lang = "dockerfile"
    body = content if not content or content.endswith("\n") else content + "\n"
    runs = [len(run) for run in re.findall(r"^[ \t]*(`{3,})", body, re.M)]
    marker = "`" * max([3, *(run + 1 for run in runs)])
    return f"{marker}{lang or 'text'}\n# {path}\n{body}{marker}\n"
