"""Every HARNESS_* variable is declared in harness/core/settings.py and read only there;
the README's table lists exactly the declarations; a malformed value names its variable."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from harness.core import settings
from harness.core.settings import SETTINGS, SettingError, readme_table
from harness.providers.limits import request_timeout

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"
SETTINGS_MODULE = "harness/core/settings.py"
# Modules that read variables whose names they are given at run time, never a HARNESS_*
# one: an API key a provider names, the host variables HARNESS_COMMAND_ENV passes to an
# agent (which refuses HARNESS_* names).
DYNAMIC_READERS = frozenset({"harness/providers/secrets.py", "harness/sandbox/agent_settings.py"})
_GETTERS = ("get", "setdefault", "pop")


def _is_environ(node: ast.expr) -> bool:
    """`os.environ` or a bare `environ`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _string_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
    return constants


def environment_reads(
    source: str, namespace: Mapping[str, object] | None = None
) -> list[tuple[int, str | None]]:
    """(line, variable name or None when the key is computed) of every read of the
    environment: `os.environ.get/[]/setdefault/pop`, `os.getenv`, `name in os.environ`.
    A key that is a name is looked up in the module's constants, then in `namespace`
    (the imported module's globals, for constants it imports)."""
    tree = ast.parse(source)
    constants = _string_constants(tree)
    for name, value in (namespace or {}).items():
        if isinstance(value, str):
            constants.setdefault(name, value)
    keys: list[tuple[int, ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in _GETTERS
                and _is_environ(func.value)
            ):
                keys.append((node.lineno, node.args[0]))
            elif (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
                isinstance(func, ast.Name) and func.id == "getenv"
            ):
                keys.append((node.lineno, node.args[0]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _is_environ(node.value):
                keys.append((node.lineno, node.slice))
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            if any(_is_environ(comparator) for comparator in node.comparators):
                keys.append((node.lineno, node.left))
    reads: list[tuple[int, str | None]] = []
    for line, key in keys:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            reads.append((line, key.value))
        elif isinstance(key, ast.Name) and key.id in constants:
            reads.append((line, constants[key.id]))
        else:
            reads.append((line, None))
    return reads


def test_the_scan_finds_every_kind_of_read() -> None:
    source = (
        "import os\n"
        "from os import environ, getenv\n"
        'NAME = "HARNESS_X"\n'
        'a = os.environ.get("HARNESS_A", "")\n'
        "b = os.environ[NAME]\n"
        'c = os.getenv("HARNESS_C")\n'
        "d = getenv(name)\n"
        'e = "HARNESS_E" in os.environ\n'
        'f = environ.setdefault("OTHER", "1")\n'
        'os.environ["HARNESS_SET"] = "written, not read"\n'
    )
    assert environment_reads(source) == [
        (4, "HARNESS_A"),
        (5, "HARNESS_X"),
        (6, "HARNESS_C"),
        (7, None),
        (8, "HARNESS_E"),
        (9, "OTHER"),
    ]


def test_no_module_but_settings_reads_a_harness_variable() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if module == SETTINGS_MODULE:
            continue
        source = path.read_text(encoding="utf-8")
        reads = environment_reads(source)
        if any(name is None for _, name in reads) and path.name != "__main__.py":
            # Names it imports: resolved by importing the module (never a __main__).
            dotted = module.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            reads = environment_reads(source, vars(importlib.import_module(dotted)))
        for line, name in reads:
            if name is None and module in DYNAMIC_READERS:
                continue
            if name is None or name.startswith("HARNESS_"):
                offenders.append(f"{module}:{line} reads {name or 'a computed name'}")
    assert not offenders, (
        "read HARNESS_* variables through their declaration in harness/core/settings.py:\n"
        + "\n".join(offenders)
    )


def test_the_allow_lists_name_existing_modules() -> None:
    for module in DYNAMIC_READERS:
        assert (ROOT / module).is_file(), module


def test_every_declaration_is_a_harness_variable_with_a_meaning() -> None:
    assert SETTINGS
    for name, setting in SETTINGS.items():
        assert name == setting.name and name.startswith("HARNESS_")
        assert setting.meaning and "\n" not in setting.meaning and "|" not in setting.meaning
        assert setting.set_by in ("user", "harness")


def test_the_readme_table_lists_exactly_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings-table -->\n", "<!-- /settings-table -->"
    assert start in readme and end in readme, "the README has no settings table"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    listed = [row.split("`")[1] for row in table.splitlines()[2:] if row.startswith("| `")]
    assert listed == list(SETTINGS), "the README's settings table and the declarations differ"
    assert table == readme_table(), (
        "the README's settings table is stale: replace it with the output of "
        'python -c "from harness.core.settings import readme_table; print(readme_table())"'
    )


def test_a_malformed_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HARNESS_REQUEST_TIMEOUT", "soon")
    with pytest.raises(SettingError, match="HARNESS_REQUEST_TIMEOUT='soon' is not a number"):
        request_timeout()
    monkeypatch.setenv("HARNESS_REQUEST_TIMEOUT", "-1")
    with pytest.raises(SettingError, match="HARNESS_REQUEST_TIMEOUT='-1' must be positive"):
        request_timeout()
    checked = 0
    for setting in SETTINGS.values():
        if setting.kind in ("text", "path", "url", "image") or setting.set_by == "harness":
            continue  # any text is a value
        if "[" in setting.kind:
            continue  # lists: parsed, and refused with the variable's name, by their user
        monkeypatch.setenv(setting.name, "not-a-value")
        with pytest.raises(SettingError, match=setting.name):
            setting.get()
        monkeypatch.delenv(setting.name)
        assert setting.get() == setting.default
        checked += 1
    assert checked >= 15


def test_empty_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_PROVIDER_CONCURRENCY", "  ")
    assert settings.PROVIDER_CONCURRENCY.get() == settings.PROVIDER_CONCURRENCY.default
    monkeypatch.setenv("HARNESS_LOCAL_SANDBOX", "OFF")
    assert settings.LOCAL_SANDBOX.get() is False


def test_a_malformed_value_read_at_import_names_the_variable() -> None:
    env = {**os.environ, "HARNESS_STARTUP_TIMEOUT": "twenty", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", "import harness.core.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "HARNESS_STARTUP_TIMEOUT='twenty' is not a number" in result.stderr


def test_cli_defaults_come_from_settings() -> None:
    from harness.providers.base import GenerationParams

    assert GenerationParams().max_tokens == settings.DEFAULT_MAX_TOKENS
    assert settings.DEFAULT_DB_SPEC.split(",") == list(settings.DEFAULT_DATABASES)
