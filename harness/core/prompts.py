"""Agent definitions (`prompts/<agent>/<version>.md`) and the messages built from them.

The file format is the seed's: front matter (name, description, model, ...) between
`---` lines, then the system prompt. Such front matter is often not strict YAML (a
description holding `Context: ...`), so a line-based reading is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.core.errors import HarnessError, InputFileError
from harness.core.settings import PROMPTS_DIR, RUNTIME_REQUIREMENTS
from harness.core.tasks import TaskBrief

_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n(?P<body>.*)\Z", re.DOTALL)
_META_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):\s?(?P<value>.*)$")
_REQUIRED_FIELDS = ("name", "description")


@dataclass(frozen=True)
class AgentDefinition:
    """One version of an agent: its metadata and its system prompt."""

    name: str
    version: str
    description: str
    model: str | None
    system_prompt: str
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def _parse_meta_lines(text: str) -> dict[str, str]:
    """Read `key: value` lines; indented lines continue the previous value."""
    meta: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        match = _META_LINE.match(line)
        if match and not line[:1].isspace():
            key = match["key"]
            meta[key] = match["value"].strip()
        elif key is not None and line.strip():
            meta[key] += " " + line.strip()
    return meta


def _parse_meta(text: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict):
        return {str(k): str(v) for k, v in data.items() if v is not None}
    return _parse_meta_lines(text)


def parse_agent_definition(path: Path, version: str) -> AgentDefinition:
    """Parse a definition file, naming the file and field when something is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from exc
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise InputFileError(path, "expected front matter between '---' lines, then the prompt")
    meta = _parse_meta(match["meta"])
    for field in _REQUIRED_FIELDS:
        if not meta.get(field):
            raise InputFileError(path, f"front matter field '{field}' is missing or empty")
    body = match["body"].strip()
    if not body:
        raise InputFileError(path, "the system prompt (text after the front matter) is empty")
    return AgentDefinition(
        name=meta["name"],
        version=version,
        description=meta["description"].replace("\\n", "\n"),
        model=meta.get("model") or None,
        system_prompt=body,
        path=path,
    )


def load_agent(ref: str, prompts_dir: Path = PROMPTS_DIR) -> AgentDefinition:
    """Load `agent@version` (version defaults to v1)."""
    name, _, version = ref.partition("@")
    version = version or "v1"
    path = prompts_dir / name / f"{version}.md"
    if not path.is_file():
        available = sorted(f"{p.parent.name}@{p.stem}" for p in prompts_dir.glob("*/*.md"))
        raise HarnessError(
            f"unknown prompt {ref!r}: no {path} (available: {', '.join(available) or 'none'})"
        )
    return parse_agent_definition(path, version)


def allowed_packages() -> list[str]:
    """The pinned candidate runtime packages, as `name==version` lines."""
    lines = RUNTIME_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def runtime_contract(brief: TaskBrief) -> str:
    """How the harness will run the app: the rules every task shares."""
    secret = (
        "- `JWT_SECRET` (environment variable) is the secret to sign tokens with.\n"
        if brief.needs_jwt_secret
        else ""
    )
    packages = "\n".join(f"  - {pkg}" for pkg in allowed_packages())
    return (
        "## Runtime contract\n\n"
        "- Python 3.11. Deliver Python files; `main.py` must expose the FastAPI "
        "application object as `app` (it is started with `uvicorn main:app` from the "
        "folder holding your files).\n"
        "- `DATABASE_URL` (environment variable) is an SQLAlchemy async URL: "
        "`postgresql+asyncpg://...` or `mysql+aiomysql://...`. The app must work on both "
        "PostgreSQL and MySQL.\n"
        f"{secret}"
        "- Create the database tables at startup; the database starts empty.\n"
        "- Keep FastAPI's OpenAPI document at `/openapi.json` (its default): the harness "
        "reads it to find your endpoints.\n"
        "- No network access at run time and no install step: only these packages "
        "(and the standard library) are available:\n"
        f"{packages}\n"
        "- Mark each file with a first line comment naming its path, e.g. `# models.py`."
    )


def build_user_message(brief: TaskBrief) -> str:
    """The user turn: the request, the exact API contract, and the runtime contract."""
    return f"{brief.request}\n\n## API contract\n\n{brief.contract}\n\n{runtime_contract(brief)}\n"
