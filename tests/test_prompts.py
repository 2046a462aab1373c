"""Agent definitions parse; prompts carry the contract and never hidden material."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.core.errors import HarnessError, InputFileError
from harness.core.prompts import (
    allowed_packages,
    build_user_message,
    load_agent,
    parse_agent_definition,
)
from harness.core.settings import PROMPTS_DIR
from harness.core.tasks import list_task_ids, load_task

# sha256 of ../shared/seeds/fastapi-backend-engineer.md: v1 must stay the seed, verbatim.
SEED_SHA256 = "35d423a135063552e7c2e4d21386ee1ed8ffec1778e35ee355664bc4ecdd1c14"


def test_v1_is_the_seed_verbatim() -> None:
    data = (PROMPTS_DIR / "fastapi-backend-engineer" / "v1.md").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SEED_SHA256


def test_seed_front_matter_is_parsed_even_though_it_is_not_strict_yaml() -> None:
    agent = load_agent("fastapi-backend-engineer@v1")
    assert agent.name == "fastapi-backend-engineer"
    assert agent.model == "sonnet"
    assert agent.version == "v1"
    assert "<example>\nContext: User needs" in agent.description
    assert agent.system_prompt.startswith("You are a senior backend engineer")
    assert "## Quality Checklist" in agent.system_prompt
    assert "---" not in agent.system_prompt.splitlines()[0]


def test_version_defaults_to_v1() -> None:
    assert load_agent("fastapi-backend-engineer").version == "v1"


def test_unknown_prompt_lists_available() -> None:
    with pytest.raises(HarnessError, match=r"available: .*fastapi-backend-engineer@v1"):
        load_agent("fastapi-backend-engineer@v99")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter here\n", "expected front matter"),
        ("---\ndescription: d\n---\nbody\n", "field 'name'"),
        ("---\nname: a\n---\nbody\n", "field 'description'"),
        ("---\nname: a\ndescription: d\n---\n\n", "system prompt"),
    ],
)
def test_malformed_definitions_name_the_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "v1.md"
    path.write_text(text)
    with pytest.raises(InputFileError) as caught:
        parse_agent_definition(path, "v1")
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_user_message_has_request_contract_and_runtime_contract() -> None:
    task = load_task("user-crud")
    message = build_user_message(task.brief())
    assert task.brief().request in message
    assert task.brief().contract in message
    for needle in (
        "main.py",
        "`app`",
        "DATABASE_URL",
        "postgresql+asyncpg",
        "mysql+aiomysql",
        "at startup",
    ):
        assert needle in message
    for package in allowed_packages():
        assert package in message
    assert "bcrypt==4.0.1" in allowed_packages()
    assert "JWT_SECRET" not in message


def _hidden_lines(task_root: Path) -> set[str]:
    """Distinctive lines of everything the agent must never see."""
    lines: set[str] = set()
    for folder in ("hidden", "reference", "mutants"):
        for path in (task_root / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".yaml"}:
                for line in path.read_text().splitlines():
                    stripped = line.strip()
                    if len(stripped) >= 25:
                        lines.add(stripped)
    return lines


@pytest.mark.parametrize("task_id", list_task_ids())
def test_no_hidden_test_or_reference_text_reaches_a_prompt(task_id: str) -> None:
    task = load_task(task_id)
    prompt = load_agent("fastapi-backend-engineer@v1").system_prompt + build_user_message(
        task.brief()
    )
    hidden = _hidden_lines(task.root)
    assert len(hidden) > 20
    leaked = [line for line in hidden if line in prompt]
    assert leaked == []
