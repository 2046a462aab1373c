"""Host uids for sandboxed candidates: one unprivileged uid per running app, from a
reserved range, so parallel candidates can neither signal nor read each other and each
has its own RLIMIT_NPROC count.

A lease is an exclusive `flock` on a per-uid lock file, held while the app runs: it is
released when the lease is closed or its process dies, so concurrent harnesses on one
machine share the range safely. A uid that names an account, or that still owns a
process, is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import time
from pathlib import Path
from typing import IO

from harness.core.errors import InfrastructureError
from harness.core.settings import CACHE_DIR

UID_RANGE = range(61000, 62000)
_RUN_DIR = Path("/run/backend-agent-eval/uids")


def _lock_dir() -> Path:
    folder = _RUN_DIR if Path("/run").is_dir() else CACHE_DIR / "uids"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def uid_processes(uid: int) -> list[int]:
    """Live pids whose real or effective uid is `uid`, from /proc/<pid>/status (a zombie
    waiting for the host's init to reap it holds nothing and is left out)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields: dict[str, list[str]] = {}
        for line in status.splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.split()
        if fields.get("State", [""])[:1] == ["Z"]:
            continue
        if str(uid) in fields.get("Uid", [])[:2]:
            found.append(int(entry.name))
    return found


def kill_uid_processes(uid: int, attempts: int = 20) -> list[int]:
    """SIGKILL every process of `uid` until none is left; returns the survivors (none
    unless the kernel is slow to reap)."""
    survivors: list[int] = []
    for _ in range(attempts):
        survivors = uid_processes(uid)
        if not survivors:
            return []
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return survivors


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


class UidLease:
    """An exclusive claim on one uid of UID_RANGE (root only)."""

    def __init__(self, uid: int, lock: IO[str]) -> None:
        self.uid = uid
        self._lock: IO[str] | None = lock

    @classmethod
    def acquire(cls) -> UidLease:
        if os.geteuid() != 0:
            raise InfrastructureError("only root can give candidates their own uid")
        folder = _lock_dir()
        for uid in UID_RANGE:
            lock = (folder / f"{uid}.lock").open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            if _has_account(uid) or uid_processes(uid):
                lock.close()
                continue
            return cls(uid, lock)
        raise InfrastructureError(
            f"no free sandbox uid in {UID_RANGE.start}-{UID_RANGE.stop - 1}: every one is "
            "leased, names an account or owns a process"
        )

    def release(self) -> None:
        """Kill whatever still runs as the uid, then give it back."""
        if self._lock is None:
            return
        kill_uid_processes(self.uid)
        self._lock.close()
        self._lock = None
