"""ruff on a temporary copy of the candidate's Python files, with a fixed rule set so the
result depends on the code alone (no config file of the candidate or of ours is read):

- `F` pyflakes: unused or undefined names and imports ("All imports are necessary and
  correct");
- `E`, `W` pycodestyle and `I` isort: PEP 8 layout and import grouping ("Code follows
  Python PEP 8 conventions"), lines up to 99 characters (PEP 8 allows a team to agree
  on up to 99), Python 3.11 syntax (the candidate runtime's).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from harness.graders.static_checks.outcome import Outcome

RULES = ("E", "F", "I", "W")
LINE_LENGTH = 99
TARGET_VERSION = "py311"
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    code: str
    message: str

    def evidence(self) -> str:
        return f"{self.path}:{self.line} {self.code} {self.message}"


@dataclass(frozen=True)
class RuffReport:
    violations: tuple[Violation, ...]
    version: str
    error: str | None = None


@cache
def ruff_executable() -> Path | None:
    """The ruff next to this interpreter (the harness venv), else one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file():
        return beside
    found = shutil.which("ruff")
    return Path(found) if found else None


@cache
def ruff_version(executable: Path) -> str:
    completed = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip()


def command(executable: Path) -> list[str]:
    return [
        str(executable),
        "check",
        "--isolated",
        "--no-cache",
        "--exit-zero",
        # A candidate's noqa comments must not silence the checks it is graded on.
        "--ignore-noqa",
        "--select",
        ",".join(RULES),
        "--line-length",
        str(LINE_LENGTH),
        "--target-version",
        TARGET_VERSION,
        "--output-format",
        "json",
        ".",
    ]


def run_ruff(files: Mapping[str, str]) -> RuffReport | None:
    """Violations sorted by file, line and code; None when no ruff is installed."""
    executable = ruff_executable()
    if executable is None:
        return None
    version = ruff_version(executable)
    with tempfile.TemporaryDirectory(prefix="harness-ruff-") as scratch:
        root = Path(scratch)
        for path, text in sorted(files.items()):
            relative = PurePosixPath(path)
            if relative.suffix != ".py" or relative.is_absolute() or ".." in relative.parts:
                continue
            target = root.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            completed = subprocess.run(
                command(executable),
                cwd=root,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return RuffReport((), version, f"ruff exceeded {TIMEOUT_S:.0f}s")
        try:
            raw = json.loads(completed.stdout or "[]")
        except json.JSONDecodeError:
            return RuffReport((), version, f"ruff failed: {completed.stderr.strip()[:500]}")
        violations = {
            Violation(
                path=Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix(),
                line=int(item["location"]["row"]),
                code=item["code"],
                message=item["message"],
            )
            for item in raw
            if item.get("code")
        }
    return RuffReport(tuple(sorted(violations, key=lambda v: (v.path, v.line, v.code))), version)


def _outcome(report: RuffReport | None, prefixes: tuple[str, ...]) -> Outcome:
    if report is None:
        return Outcome("skipped", note="ruff is not installed")
    if report.error is not None:
        return Outcome("skipped", note=report.error)
    problems = [v.evidence() for v in report.violations if v.code.startswith(prefixes)]
    return Outcome.from_problems(problems, note=report.version)


def pyflakes_clean(report: RuffReport | None) -> Outcome:
    return _outcome(report, ("F",))


def pep8_clean(report: RuffReport | None) -> Outcome:
    return _outcome(report, ("E", "I", "W"))
