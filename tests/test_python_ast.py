"""Parsing Python in grader threads: CPython 3.11's AST constructor keeps its recursion
depth in state every thread shares, so two parses interleaved by a finalizer that releases
the GIL end in `SystemError: AST constructor recursion depth mismatch` (seen once in the
corpus: a sound answer's checklist scored 0 as a grader error). Every parse in the harness
goes through `parse_python`, which holds one lock."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.graders.python_ast import parse_python

HARNESS = Path(__file__).resolve().parent.parent / "harness"
SOURCE = "\n".join(path.read_text() for path in sorted(HARNESS.rglob("*.py"))[:3])
THREADS = 4
SECONDS = 2.0


class _YieldsOnCollection:
    """Garbage whose finalizer releases the GIL when a collection runs it mid-parse."""

    def __del__(self) -> None:
        time.sleep(0.002)


def _parse_under_collection(parse: Callable[[str], object]) -> list[str]:
    """Parse in THREADS threads, each at its own stack depth, with cyclic garbage made
    before every parse; the SystemErrors seen (bounded to SECONDS)."""
    errors: list[str] = []
    deadline = time.monotonic() + SECONDS

    def parse_at_depth(depth: int) -> None:
        if depth:
            parse_at_depth(depth - 1)
            return
        while time.monotonic() < deadline:
            for _ in range(5):
                garbage = _YieldsOnCollection()
                garbage.cycle = garbage  # type: ignore[attr-defined]
            del garbage
            try:
                parse(SOURCE)
            except SystemError as error:
                errors.append(str(error))

    threads = [threading.Thread(target=parse_at_depth, args=(7 * i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 20)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_parse_python_survives_parses_interleaved_by_finalizers() -> None:
    assert _parse_under_collection(parse_python) == []


def test_parse_python_parses_as_ast_parse_does() -> None:
    assert ast.dump(parse_python(SOURCE, "x.py")) == ast.dump(ast.parse(SOURCE, "x.py"))


def test_no_module_of_the_harness_calls_ast_parse_itself() -> None:
    callers = []
    for path in sorted(HARNESS.rglob("*.py")):
        if path.name == "python_ast.py":
            continue
        for node in ast.walk(parse_python(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "parse"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ast"
            ):
                callers.append(f"{path.relative_to(HARNESS.parent)}:{node.lineno}")
    assert callers == []
