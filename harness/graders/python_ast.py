"""`ast.parse` one thread at a time.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by every thread
of the interpreter. When a parse in one thread is suspended mid-construction (a garbage
collection runs a finalizer that releases the GIL) and another thread parses meanwhile,
the first ends with `SystemError: AST constructor recursion depth mismatch`. Graders run
in threads (`--jobs`, the corpus, the Ray node's actor), so an unlucky checklist grade
raised and scored 0 as a grader error on a sound answer. Every parse in the harness goes
through `parse_python` (tests/test_python_ast.py holds that, and that it survives the
race).
"""

from __future__ import annotations

import ast
import threading

_PARSE_LOCK = threading.Lock()


def parse_python(source: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse(source, filename)`, never beside another thread's parse."""
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)
