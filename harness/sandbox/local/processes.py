"""Child-process plumbing shared by database servers and candidate apps."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (callers retry on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this child when the harness dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# Whom a child runs as: an account name, a bare uid (its gid is the same number), or
# None for the harness's own user.
RunAs = str | int | None


def _ids(run_as: RunAs) -> tuple[int, int] | None:
    """(uid, gid) to switch to, or None when there is nothing to switch (not root)."""
    if run_as is None or os.geteuid() != 0:
        return None
    if isinstance(run_as, int):
        return run_as, run_as
    entry = pwd.getpwnam(run_as)
    return entry.pw_uid, entry.pw_gid


def child_setup(
    run_as: RunAs = None, limits: Callable[[], None] | None = None
) -> Callable[[], None]:
    """A preexec function: drop to `run_as` (when root), apply limits, die with parent.

    The death signal is set last because changing credentials clears it.
    """
    ids = _ids(run_as)

    def setup() -> None:
        if ids is not None:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        if limits is not None:
            limits()
        _die_with_parent()

    return setup


def chown_tree(path: Path, account: RunAs) -> None:
    """Hand a folder to the account a child will run as (no-op unless root)."""
    ids = _ids(account)
    if ids is None:
        return
    uid, gid = ids
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def kill_process_group(process: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """Stop a child started with start_new_session=True, and everything it spawned."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
