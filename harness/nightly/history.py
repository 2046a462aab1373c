"""The nightly history: one JSON line per nightly run (`report.trend.HistoryEntry`),
appended under an exclusive lock in one write and fsynced, so two nightlies finishing at
once never interleave and a crash leaves at most one torn last line (which readers
skip). The leaderboard draws its trend from this file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from harness.report.trend import HistoryEntry, read_history


def append_history(path: Path, entry: HistoryEntry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (entry.model_dump_json() + "\n").encode()
    with path.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        # A torn line left by a crash must not swallow this record: start on a new line.
        handle.seek(0, os.SEEK_END)
        if handle.tell() and not _ends_with_newline(path):
            line = b"\n" + line
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


__all__ = ["HistoryEntry", "append_history", "read_history"]
