"""Throwaway PostgreSQL and MariaDB/MySQL servers the harness starts itself.

Each lives in a temporary folder, listens on a free loopback port, and dies with the
harness (parent-death signal) so a crash leaves no server running.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import URL

from harness.core.errors import InfrastructureError
from harness.sandbox.databases import DatabaseServer, MySQLServer, PostgresServer
from harness.sandbox.local.processes import (
    child_setup,
    chown_tree,
    free_loopback_port,
    kill_process_group,
)
from harness.sandbox.server_settings import (
    ADMIN_USER,
    MYSQL_FLAGS,
    POSTGRES_FLAGS,
    wait_until_accepting,
)

START_TIMEOUT_S = 60.0


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise InfrastructureError(
        "PostgreSQL server binaries not found: install them (Debian: apt-get install "
        "postgresql) or point HARNESS_POSTGRES_URL at a server"
    )


def _version_key(path: str) -> int:
    major = Path(path).parent.parent.name
    return int(major) if major.isdigit() else 0


def _which_any(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if found:
            return found
    raise InfrastructureError(
        f"MySQL-protocol server binaries not found ({' / '.join(names)}): install them "
        "(Debian: apt-get install mariadb-server) or point HARNESS_MYSQL_URL at a server"
    )


def _service_account(preferred: str) -> str | None:
    """Servers refuse to run as root: when root, run them as their system account."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(preferred)
    except KeyError as exc:
        raise InfrastructureError(f"running as root but no '{preferred}' system user") from exc
    return preferred


def _run_checked(command: list[str], account: str | None, log: Path) -> None:
    with log.open("ab") as out:
        result = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup(account),
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise InfrastructureError(
            f"{Path(command[0]).name} failed (exit {result.returncode}); log: {log}\n" + _tail(log)
        )


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


class _OwnedServer:
    """The process and folder behind a server the harness started."""

    def __init__(self, process: subprocess.Popen[bytes], workdir: Path, log: Path) -> None:
        self.process = process
        self.workdir = workdir
        self.log = log

    def stop(self) -> None:
        kill_process_group(self.process, grace_s=10.0)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_until_accepting(server: DatabaseServer, owned: _OwnedServer) -> None:
    """Wait on a real connection, failing fast if the server process died."""

    def ended() -> str | None:
        code = owned.process.poll()
        return None if code is None else f"exited with {code}"

    wait_until_accepting(server, ended, START_TIMEOUT_S, lambda: _tail(owned.log))


class LocalPostgresServer(PostgresServer):
    """initdb + postgres on a free loopback port, in a temporary folder."""

    @classmethod
    def start(cls) -> LocalPostgresServer:
        bindir = _postgres_bindir()
        account = _service_account("postgres")
        workdir = Path(tempfile.mkdtemp(prefix="harness-pg-"))
        password = secrets.token_urlsafe(16)
        (workdir / "pwfile").write_text(password + "\n")
        log = workdir / "server.log"
        chown_tree(workdir, account)
        _run_checked(
            [
                str(bindir / "initdb"),
                "-D",
                str(workdir / "data"),
                "-U",
                ADMIN_USER,
                f"--pwfile={workdir / 'pwfile'}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            account,
            log,
        )
        port = free_loopback_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(workdir / "data"),
                    "-p",
                    str(port),
                    "-k",
                    str(workdir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    *POSTGRES_FLAGS,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=child_setup(account),
            )
        owned = _OwnedServer(process, workdir, log)
        url = URL.create(
            "postgresql+psycopg",
            username=ADMIN_USER,
            password=password,
            host="127.0.0.1",
            port=port,
            database="postgres",
        )
        server = cls(url, owned)
        try:
            _wait_until_accepting(server, owned)
        except BaseException:
            server.close()
            raise
        return server


class LocalMySQLServer(MySQLServer):
    """mariadb-install-db + mariadbd (or mysqld) on a free loopback port."""

    @classmethod
    def start(cls) -> LocalMySQLServer:
        installer = _which_any("mariadb-install-db", "mysql_install_db")
        daemon = _which_any("mariadbd", "mysqld")
        account = _service_account("mysql")
        workdir = Path(tempfile.mkdtemp(prefix="harness-my-"))
        log = workdir / "server.log"
        # Its own temporary folder: servers bootstrapped at the same time (parallel test
        # workers) clashed over temporary tables in a shared /tmp.
        (workdir / "tmp").mkdir()
        chown_tree(workdir, account)
        os.chmod(workdir, 0o700)  # the socket inside trusts OS accounts: keep others out
        user_flag = [f"--user={account}"] if account else []
        _run_checked(
            [
                installer,
                "--no-defaults",
                *user_flag,
                f"--datadir={workdir / 'data'}",
                f"--tmpdir={workdir / 'tmp'}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            None,
            log,
        )
        chown_tree(workdir, account)
        port = free_loopback_port()
        socket_path = workdir / "mysqld.sock"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    daemon,
                    "--no-defaults",
                    *user_flag,
                    f"--datadir={workdir / 'data'}",
                    f"--tmpdir={workdir / 'tmp'}",
                    "--bind-address=127.0.0.1",
                    f"--port={port}",
                    f"--socket={socket_path}",
                    f"--pid-file={workdir / 'mysqld.pid'}",
                    *MYSQL_FLAGS,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=child_setup(),
            )
        owned = _OwnedServer(process, workdir, log)
        password = secrets.token_urlsafe(16)
        try:
            _create_admin_over_socket(socket_path, password, owned)
        except BaseException:
            owned.stop()
            raise
        url = URL.create(
            "mysql+pymysql", username=ADMIN_USER, password=password, host="127.0.0.1", port=port
        )
        server = cls(url, owned)
        try:
            _wait_until_accepting(server, owned)
        except BaseException:
            server.close()
            raise
        return server


def _create_admin_over_socket(socket_path: Path, password: str, owned: _OwnedServer) -> None:
    """The fresh server trusts only its OS account over the socket: make a TCP admin."""
    import pymysql

    socket_user = "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if owned.process.poll() is not None:
            raise InfrastructureError(
                f"mysql server exited with {owned.process.returncode} during start; "
                f"log:\n{_tail(owned.log)}"
            )
        try:
            conn = pymysql.connect(unix_socket=str(socket_path), user=socket_user, autocommit=True)
            break
        except pymysql.err.OperationalError as exc:
            if time.monotonic() > deadline:
                raise InfrastructureError(f"mysql server socket not answering: {exc}") from exc
            time.sleep(0.2)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER '{ADMIN_USER}'@'%%' IDENTIFIED BY %s", (password,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION")
    finally:
        conn.close()


def local_server_version(kind: str) -> str:
    """The version of the server binary a local `kind` server would run, read without
    starting one (part of the grade cache key, so an unchanged re-run starts nothing)."""
    if kind == "postgres":
        binary = str(_postgres_bindir() / "postgres")
    else:
        binary = _which_any("mariadbd", "mysqld")
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"{binary} --version failed: {exc}") from exc
    if done.returncode != 0 or not done.stdout.strip():
        raise InfrastructureError(
            f"{binary} --version exited {done.returncode}: {done.stderr.strip()[:300]}"
        )
    return f"local {done.stdout.strip()}"
