"""The import rules of the README's Architecture section, enforced: each layer of
`harness/` imports only the layers below it, so the records and settings never depend on
a grader, a sandbox never on the run engine, and a grader never on a provider."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness"

# layer -> the layers it may import (besides itself). `cli` is the top: it wires
# everything, so it may import anything.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "sandbox": frozenset({"core"}),
    "graders": frozenset({"core", "sandbox"}),
    "providers": frozenset({"core", "sandbox"}),
    "grading": frozenset({"core", "graders", "sandbox"}),
    "run": frozenset({"core", "graders", "grading", "providers", "sandbox"}),
    "report": frozenset({"core", "graders"}),
    "nightly": frozenset({"core", "graders", "grading", "providers", "report", "run"}),
}
TOP = "cli"


def layer_of(module: str) -> str | None:
    """`harness.<layer>...` -> layer; None for modules outside the harness."""
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) < 2:
        return None
    return parts[1]


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in a module, at any depth (imports inside
    functions count too: a deferred import is still a dependency)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                # `from harness import grading` imports the layer `grading`.
                if node.module == "harness":
                    yield node.lineno, f"harness.{alias.name}"


def violations(package: Path) -> list[str]:
    """Every import that breaks the rules, as `path:line: layer imports layer`."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if len(relative.parts) == 1:
            continue  # harness/__init__.py and the like: no layer
        source_layer = relative.parts[0]
        if source_layer == TOP:
            continue
        allowed = ALLOWED.get(source_layer)
        if allowed is None:
            found.append(f"{relative}: unknown layer {source_layer!r} (add it to ALLOWED)")
            continue
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            target = layer_of(module)
            if target is None or target == source_layer or target in allowed:
                continue
            found.append(f"{relative}:{line}: {source_layer} imports {target} ({module})")
    return found


def test_the_harness_keeps_its_import_rules() -> None:
    assert violations(PACKAGE) == []


# Sibling runtimes inside `sandbox/`: neither imports the other (the shared modules at
# `harness/sandbox/` hold what both use; `backend.py` registers both).
RUNTIME_FOLDERS = frozenset({"local", "docker"})


def runtime_crossings(package: Path) -> list[str]:
    """Every import from one runtime's folder into another's, as `path:line: a imports b`."""
    found: list[str] = []
    sandbox = package / "sandbox"
    for folder in sorted(RUNTIME_FOLDERS):
        for path in sorted((sandbox / folder).rglob("*.py")):
            for line, module in imported_modules(path.read_text(encoding="utf-8")):
                parts = module.split(".")
                if parts[:2] != ["harness", "sandbox"] or len(parts) < 3:
                    continue
                if parts[2] in RUNTIME_FOLDERS and parts[2] != folder:
                    relative = path.relative_to(package)
                    found.append(f"{relative}:{line}: {folder} imports {parts[2]} ({module})")
    return found


def test_the_runtimes_do_not_import_each_other() -> None:
    assert {p.name for p in (PACKAGE / "sandbox").iterdir() if (p / "__init__.py").is_file()} == (
        RUNTIME_FOLDERS
    )
    assert runtime_crossings(PACKAGE) == []


def test_a_planted_runtime_crossing_is_found(tmp_path: Path) -> None:
    for folder in RUNTIME_FOLDERS:
        (tmp_path / "sandbox" / folder).mkdir(parents=True)
    (tmp_path / "sandbox" / "local" / "app.py").write_text(
        "def f():\n    from harness.sandbox.docker.engine import connect_engine\n"
    )
    (tmp_path / "sandbox" / "docker" / "ok.py").write_text("import harness.sandbox.databases\n")
    assert runtime_crossings(tmp_path) == [
        "sandbox/local/app.py:2: local imports docker (harness.sandbox.docker.engine)"
    ]


def test_every_layer_on_disk_has_a_rule() -> None:
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert layers - {TOP} == set(ALLOWED)


@pytest.mark.parametrize(
    ("layer", "source", "expected"),
    [
        ("core", "from harness.graders.base import Grader\n", "core imports graders"),
        ("sandbox", "import harness.run.engine\n", "sandbox imports run"),
        (
            "graders",
            "def f():\n    from harness.providers import base\n",
            "graders imports providers",
        ),
        ("report", "from harness import grading\n", "report imports grading"),
    ],
)
def test_a_planted_violation_is_found(
    tmp_path: Path, layer: str, source: str, expected: str
) -> None:
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / layer / "planted.py").write_text(source)
    (found,) = violations(tmp_path)
    assert found.startswith(f"{layer}/planted.py:") and expected in found


def test_an_allowed_import_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "ok.py").write_text(
        "from harness.core.records import SampleResult\nimport harness.graders.base\nimport os\n"
    )
    assert violations(tmp_path) == []
