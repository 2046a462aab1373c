"""What one static check found: a status and evidence lines (`file:line what`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "not-applicable", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """What one check found: its status and evidence lines (`file:line what`)."""

    status: Status
    evidence: tuple[str, ...] = ()
    note: str = ""

    @staticmethod
    def from_problems(problems: list[str], note: str = "") -> Outcome:
        """Failed with the problems as evidence (sorted), or passed when there are none."""
        if problems:
            return Outcome("failed", tuple(sorted(set(problems), key=_evidence_key)), note)
        return Outcome("passed", (), note)


def _evidence_key(line: str) -> tuple[str, int, str]:
    match = re.match(r"([^:\s]+):(\d+)", line)
    if match is None:
        return (line, 0, line)
    return (match[1], int(match[2]), line)
