"""The local runtime's sandbox: bubblewrap namespaces around a candidate app.

The app gets its own mount, PID, IPC, UTS, network, cgroup and user namespace, and sees
only: its files read-write at /app, the runtime venv and the system's /usr (and the
/bin, /lib* links into it) read-only, a few generated /etc files, a private /tmp, a
fresh /proc and a minimal /dev. Its network namespace has only loopback; the relays of
`harness.sandbox.local.relay` carry the graders' requests in and its database connections out.
Nested user namespaces are refused where the kernel lets bubblewrap do so.

`sandbox_unavailable_reason` says, once per process, whether this can run here.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from harness.core import settings
from harness.core.errors import InfrastructureError
from harness.sandbox.local.processes import child_setup
from harness.sandbox.local.runtime_venv import ensure_runtime_venv, world_accessible
from harness.sandbox.local.uids import UidLease

APP_DIR = "/app"
RUN_DIR = "/run/harness"
DB_SOCKET = f"{RUN_DIR}/db.sock"
HOSTNAME = "candidate"
TMP_BYTES = 64 * 2**20
SHM_BYTES = 16 * 2**20
PROBE_TIMEOUT_S = 15.0
# Host files an app may need, bound read-only when present (the loader's cache, the
# timezone, mimetypes' table).
HOST_ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types")
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class SandboxPaths:
    """Host paths that make up one sandbox."""

    workdir: Path  # bound read-write at /app
    etc: Path  # generated passwd, group, hosts, nsswitch.conf
    db_socket: Path  # the host relay's listening Unix socket
    python: Path  # the runtime venv's interpreter


def _top_level_mounts() -> list[str]:
    args: list[str] = []
    for path in _TOP_LEVEL:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def runtime_roots(python: Path) -> list[Path]:
    """What must be visible for `python` to run: its venv and, when the base interpreter
    lives outside /usr, the base's prefix."""
    venv = python.absolute().parent.parent
    roots = [venv]
    config = venv / "pyvenv.cfg"
    home: Path | None = None
    if config.is_file():
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                home = Path(value.strip())
    if home is None:
        home = python.resolve().parent
    base = home.resolve().parent
    if not base.is_relative_to("/usr") and not base.is_relative_to(venv):
        roots.append(base)
    return roots


def write_etc(folder: Path, uid: int, gid: int) -> None:
    """The few /etc files the sandbox gets, naming its uid and only loopback hosts."""
    folder.mkdir(mode=0o755, exist_ok=True)
    files = {
        "passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"app:x:{uid}:{gid}:candidate:{APP_DIR}:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\napp:x:{gid}:\nnogroup:x:65534:\n",
        "hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }
    for name, content in files.items():
        (folder / name).write_text(content)
        os.chmod(folder / name, 0o644)


def bwrap_command(paths: SandboxPaths, disable_userns: bool, inner: list[str]) -> list[str]:
    """The bubblewrap invocation running `inner` in a fresh sandbox."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        *(["--disable-userns"] if disable_userns else []),
        "--die-with-parent",
        "--new-session",
        "--hostname",
        HOSTNAME,
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        *_top_level_mounts(),
    ]
    for root in runtime_roots(paths.python):
        args += ["--ro-bind", str(root), str(root)]
    args += ["--dir", "/etc"]
    for name in ("passwd", "group", "hosts", "nsswitch.conf"):
        args += ["--ro-bind", str(paths.etc / name), f"/etc/{name}"]
    for host_file in HOST_ETC:
        args += ["--ro-bind-try", host_file, host_file]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(SHM_BYTES),
        "--tmpfs",
        "/dev/shm",
        "--size",
        str(TMP_BYTES),
        "--tmpfs",
        "/tmp",
        "--dir",
        RUN_DIR,
        "--ro-bind",
        str(paths.db_socket),
        DB_SOCKET,
        "--bind",
        str(paths.workdir),
        APP_DIR,
        "--chdir",
        APP_DIR,
        "--remount-ro",
        "/",
        "--",
        *inner,
    ]
    return args


# -- can it run here? -------------------------------------------------------------------

_warned = threading.Event()


@functools.cache
def _probe(python: Path) -> tuple[str | None, bool]:
    """Run the runtime's Python in a real sandbox (as a leased uid when root): the reason
    it cannot, else None, and whether nested user namespaces can be refused."""
    lease = UidLease.acquire() if os.geteuid() == 0 else None
    uid = lease.uid if lease is not None else os.getuid()
    gid = uid if lease is not None else os.getgid()
    folder = Path(tempfile.mkdtemp(prefix="harness-sandbox-probe-"))
    try:
        os.chmod(folder, 0o711)
        paths = SandboxPaths(folder / "app", folder / "etc", folder / "db.sock", python)
        paths.workdir.mkdir()
        paths.db_socket.touch()
        write_etc(paths.etc, uid, gid)
        if lease is not None:
            os.chown(paths.workdir, uid, gid)
        inner = [str(python), "-I", "-S", "-c", "import os; open('/app/ok', 'w').write('ok')"]
        error = ""
        for disable_userns in (True, False):
            error = _run_probe(bwrap_command(paths, disable_userns, inner), lease)
            if not error and (paths.workdir / "ok").is_file():
                return None, disable_userns
        return error or "the probe ran but could not write its workdir", False
    finally:
        if lease is not None:
            lease.release()
        shutil.rmtree(folder, ignore_errors=True)


def _run_probe(command: list[str], lease: UidLease | None) -> str:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            preexec_fn=child_setup(lease.uid if lease is not None else None),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{exc.__class__.__name__}: {exc}"
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())[-500:]
        return f"bwrap exited {done.returncode}: {detail}"
    return ""


def sandbox_unavailable_reason(python: Path | None = None) -> str | None:
    """Why the local runtime cannot sandbox candidates here, or None when it can.

    `python` is the runtime venv's interpreter (default: the one `harness runtime prepare`
    builds); when root, the app's uid must be able to reach it. The answer is probed
    once per process by running it in a real sandbox.
    """
    if not settings.LOCAL_SANDBOX.get():
        return "disabled by HARNESS_LOCAL_SANDBOX"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    try:
        if python is None:
            python = ensure_runtime_venv()
        if os.geteuid() == 0 and not world_accessible(python):
            return f"the runtime python {python} is not reachable by an unprivileged uid"
        reason, _ = _probe(python.absolute())
    except InfrastructureError as exc:
        return str(exc)
    return None if reason is None else f"bubblewrap cannot create a sandbox here: {reason}"


def disable_userns_works(python: Path) -> bool:
    """Whether this kernel lets bubblewrap refuse nested user namespaces (probed once)."""
    return _probe(python.absolute())[1]


def warn_unsandboxed_once(reason: str) -> None:
    """Say loudly, once per process, that candidates run without a sandbox."""
    if _warned.is_set():
        return
    _warned.set()
    bar = "!" * 78
    print(
        f"{bar}\nharness: WARNING: the local runtime runs candidates WITHOUT a sandbox: "
        f"{reason}.\nharness: a candidate can read and change the harness's files, its "
        "hidden tests and graders, and other candidates; rows are marked sandboxed: false."
        f"\n{bar}",
        file=sys.stderr,
        flush=True,
    )
