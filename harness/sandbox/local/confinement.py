"""One sandboxed candidate's plumbing: its uid, its folder, its two relays, bubblewrap.

Layout on the host, in a root-owned folder (mode 0711) per app:

    app/          the candidate's files, owned by its uid, bound read-write at /app
    etc/          generated passwd, group, hosts, nsswitch.conf, bound read-only
    db.sock       the host relay's listening socket, bound read-only at /run/harness/db.sock
    relay.log     the host relay's output

The harness binds both listening sockets itself and hands them down as file
descriptors, so no relay ever resolves a path the candidate could replace:
- 127.0.0.1:<free port> (TCP, host network): accepted inside the sandbox by the sandbox
  relay, which connects each to the app on 127.0.0.1:<app port> in the sandbox's own
  network namespace. The graders' base_url names this port.
- db.sock (Unix): accepted by the host relay, which connects each to the real database
  host:port; inside, the sandbox relay listens on 127.0.0.1:<database port> and
  connects to it, so DATABASE_URL is an ordinary loopback URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness.sandbox.databases import SampleDatabase
from harness.sandbox.local.namespace import (
    DB_SOCKET,
    SandboxPaths,
    bwrap_command,
    disable_userns_works,
    write_etc,
)
from harness.sandbox.local.processes import child_setup, chown_tree, kill_process_group
from harness.sandbox.local.uids import UidLease

RELAY_SOURCE = (Path(__file__).parent / "relay.py").read_text(encoding="utf-8")
APP_PORT = 8000
BACKLOG = 128


def _relay(python: Path, *args: str) -> list[str]:
    return [str(python), "-I", "-S", "-c", RELAY_SOURCE, *args]


class Confinement:
    """Everything one sandboxed app holds on the host, created by `prepare` and `spawn`
    and all released by `close` (processes killed, uid given back, folder removed)."""

    def __init__(self, python: Path, database: SampleDatabase) -> None:
        self.python = python
        self.database = database
        self.lease: UidLease | None = None
        self.base: Path | None = None
        self.port = 0
        self.relay: subprocess.Popen[bytes] | None = None
        self._ready_read: int | None = None
        self._ready = False

    @property
    def uid(self) -> int | None:
        return self.lease.uid if self.lease is not None else None

    @property
    def app_port(self) -> int:
        """The app's port inside the sandbox (anything but the database's)."""
        return APP_PORT if self.database.port != APP_PORT else APP_PORT + 1

    @property
    def database_url(self) -> str:
        """DATABASE_URL inside: the sandbox relay's loopback port for the database."""
        return replace(self.database, host="127.0.0.1").app_url

    def prepare(self, write_files: Callable[[Path], None]) -> Path:
        """Lease a uid (when root), make the folder, write the app's files; the workdir."""
        if os.geteuid() == 0:
            self.lease = UidLease.acquire()
        self.base = Path(tempfile.mkdtemp(prefix="harness-app-"))
        os.chmod(self.base, 0o711)
        workdir = self.base / "app"
        workdir.mkdir()
        write_files(workdir)
        chown_tree(workdir, self.uid)
        uid = self.uid if self.uid is not None else os.getuid()
        write_etc(self.base / "etc", uid, uid if self.uid is not None else os.getgid())
        return workdir

    def spawn(
        self, env: dict[str, str], command: list[str], limits: Callable[[], None]
    ) -> subprocess.Popen[bytes]:
        """Start the host relay and the sandbox running `command` (the app on
        `app_port`); output of the sandbox on the returned process's stdout."""
        assert self.base is not None
        paths = SandboxPaths(
            self.base / "app", self.base / "etc", self.base / "db.sock", self.python
        )
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        database = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ready_read, ready_write = os.pipe()
        self._ready_read = ready_read
        os.set_blocking(ready_read, False)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(BACKLOG)
            self.port = int(listener.getsockname()[1])
            database.bind(str(paths.db_socket))
            database.listen(BACKLOG)
            if self.uid is not None:
                os.chown(paths.db_socket, self.uid, self.uid)
            os.chmod(paths.db_socket, 0o600)
            self.relay = self._start_host_relay(database)
            inner = _relay(
                self.python,
                "sandbox",
                f"--app-fd={listener.fileno()}",
                f"--ready-fd={ready_write}",
                f"--app-port={self.app_port}",
                f"--db-port={self.database.port}",
                f"--db-socket={DB_SOCKET}",
                "--",
                *command,
            )
            return subprocess.Popen(
                bwrap_command(paths, disable_userns_works(self.python), inner),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(listener.fileno(), ready_write),
                preexec_fn=child_setup(self.uid, limits),
            )
        finally:
            # The relays hold them now; once they die the port refuses at once.
            listener.close()
            database.close()
            os.close(ready_write)

    def _start_host_relay(self, database: socket.socket) -> subprocess.Popen[bytes]:
        assert self.base is not None
        target = f"{self.database.host}:{self.database.port}"
        with (self.base / "relay.log").open("wb") as log:
            return subprocess.Popen(
                _relay(
                    self.python, "host", f"--listen-fd={database.fileno()}", f"--target={target}"
                ),
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(database.fileno(),),
                preexec_fn=child_setup(self.uid),
            )

    def sandbox_started(self) -> bool:
        """Whether the sandbox came up (its relay said so before the app's code ran)."""
        if not self._ready and self._ready_read is not None:
            with contextlib.suppress(BlockingIOError):
                self._ready = bool(os.read(self._ready_read, 1))
        return self._ready

    def relay_failure(self) -> str | None:
        """Why the host relay is gone, if it is (an infrastructure failure)."""
        if self.relay is None or self.relay.poll() is None:
            return None
        log = ""
        if self.base is not None:
            with contextlib.suppress(OSError):
                log = (self.base / "relay.log").read_text(errors="replace")[-1500:]
        return f"the sandbox's database relay exited with {self.relay.returncode}: {log}"

    def close(self) -> None:
        if self.relay is not None:
            kill_process_group(self.relay)
            self.relay = None
        if self._ready_read is not None:
            os.close(self._ready_read)
            self._ready_read = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
