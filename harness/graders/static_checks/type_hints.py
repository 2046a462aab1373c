"""Type hints on every function and method: each parameter and the return."""

from __future__ import annotations

import ast

from harness.graders.static_checks.outcome import Outcome
from harness.graders.static_checks.source import Candidate, FunctionNode, PythonFile


def type_hints(candidate: Candidate) -> Outcome:
    functions = list(candidate.functions())
    if not functions:
        return Outcome("not-applicable", note="no functions")
    problems = []
    for file, function in functions:
        missing = _missing_hints(file, function)
        if missing:
            problems.append(f"{file.where(function)} {function.name}(): no hint for {missing}")
    return Outcome.from_problems(problems, note=f"{len(functions)} functions")


def _missing_hints(file: PythonFile, function: FunctionNode) -> str:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if positional and _is_method(file, function) and not _is_static(function):
        positional = positional[1:]
    every = [*positional, *arguments.kwonlyargs]
    every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    missing = [a.arg for a in every if a.annotation is None]
    if function.returns is None:
        missing.append("return")
    return ", ".join(missing)


def _is_method(file: PythonFile, function: FunctionNode) -> bool:
    return isinstance(file.parents.get(function), ast.ClassDef)


def _is_static(function: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list)
