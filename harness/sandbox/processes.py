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


def child_setup(
    run_as: str | None = None, limits: Callable[[], None] | None = None
) -> Callable[[], None]:
    """A preexec function: drop to `run_as` (when root), apply limits, die with parent.

    The death signal is set last because changing credentials clears it.
    """
    account = pwd.getpwnam(run_as) if run_as and os.geteuid() == 0 else None

    def setup() -> None:
        if account is not None:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        if limits is not None:
            limits()
        _die_with_parent()

    return setup


def chown_tree(path: Path, account: str | None) -> None:
    """Hand a folder to the account a child will run as (no-op unless root)."""
    if account is None or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(account)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


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
