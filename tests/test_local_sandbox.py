"""What the local runtime promises about a candidate process: a bubblewrap sandbox of
its own (its files at /app, the runtime venv and the system read-only, nothing of the
harness), its own uid when the harness is root, only its database on the network, an
environment without the harness's secrets, and nothing left running after it is
stopped. Hostile answers (tests/fixtures/hostile/) are graded for real and must end as
the cheats they are, never credited, never an infra error, the harness untouched.

This machine must be able to run the sandbox (bubblewrap installed, user namespaces
allowed): the tests fail saying why, never skip. Hostile answers never run unsandboxed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.records import SampleResult
from harness.core.settings import CACHE_DIR
from harness.core.tasks import Task
from harness.grading.pipeline import PROOF_GRADERS
from harness.providers import ModelResponse
from harness.run.generation import extract_response
from harness.run.grade_cache import default_grade_cache_dir
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.local import namespace
from harness.sandbox.local.app import LocalApp
from harness.sandbox.local.namespace import sandbox_unavailable_reason
from harness.sandbox.local.runtime import LocalRuntime
from harness.sandbox.local.uids import UID_RANGE
from harness.sandbox.runtime import Runtime
from harness.sandbox.server_settings import ADMIN_USER
from tests.support.grading import grade_files

PROJECT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
HOSTILE_TIMEOUT_S = 10.0
# The top level of a sandbox (var/ holds only the path down to the runtime venv).
SANDBOX_ROOT = frozenset("app bin dev etc lib lib32 lib64 libx32 proc run sbin tmp usr var".split())
# What hostile answers go after: they must be byte for byte the same afterwards.
PROTECTED = (
    PROJECT / "tasks" / "user-crud" / "hidden" / "test_users.py",
    PROJECT / "harness" / "graders" / "functional.py",
    PROJECT / "harness" / "graders" / "base.py",
    PROJECT / "harness" / "grading" / "pipeline.py",
)

PROBE_APP = r"""
import hashlib
import os
import pathlib
import socket
import subprocess

from fastapi import FastAPI, Request

app = FastAPI()
child = subprocess.Popen(["sleep", "299.25"])


@app.get("/probe")
async def probe(request: Request) -> dict[str, object]:
    return {"uid": os.getuid(), "env": sorted(os.environ), "child": child.pid,
            "database_url": os.environ["DATABASE_URL"], "client": list(request.client),
            "cwd": os.getcwd()}


@app.post("/view")
async def view(body: dict) -> dict[str, object]:
    return {
        "root": sorted(os.listdir("/")),
        "exists": {path: os.path.exists(path) for path in body["paths"]},
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "mounts": pathlib.Path("/proc/self/mounts").read_text(),
    }


@app.get("/write")
async def write(path: str) -> dict[str, object]:
    try:
        pathlib.Path(path).write_text("x")
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


@app.get("/connect")
def connect(host: str, port: int) -> dict[str, object]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


@app.post("/echo")
async def echo(request: Request) -> dict[str, object]:
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
"""


@pytest.fixture(scope="module", autouse=True)
def sandbox_available(runtime_python: Path) -> None:
    reason = sandbox_unavailable_reason(runtime_python)
    assert reason is None, f"the local sandbox cannot run on this machine: {reason}"


@dataclass
class Probe:
    app: LocalApp
    seen: dict[str, Any]

    def get(self, route: str, **params: object) -> Any:
        return httpx.get(f"{self.app.base_url}{route}", params=params, timeout=10).json()

    def post(self, route: str, **body: object) -> Any:
        return httpx.post(f"{self.app.base_url}{route}", json=body, timeout=10).json()


@pytest.fixture(params=["postgres"])
def probe(
    request: pytest.FixtureRequest,
    servers: dict[str, DatabaseServer],
    runtime_python: Path,
    tmp_path: Path,
) -> Iterator[Probe]:
    server = servers[request.param]
    database = server.create_sample_database("probe")
    app = LocalApp({"main.py": PROBE_APP}, database, runtime_python, tmp_path / "app.log")
    try:
        outcome = app.start(15)
        assert outcome.ok, outcome.error
        yield Probe(app, httpx.get(f"{app.base_url}/probe", timeout=5).json())
    finally:
        app.stop()
        server.drop_sample_database(database)


# -- the sandbox as the candidate sees it ---------------------------------------------------


def test_app_sees_only_its_own_environment(probe: Probe) -> None:
    seen = probe.seen
    assert "DATABASE_URL" in seen["env"]
    assert not [name for name in seen["env"] if name.startswith("HARNESS_")]
    database = probe.app.database
    assert database.password in seen["database_url"]
    assert database.user in seen["database_url"]
    assert f"@127.0.0.1:{database.port}/{database.name}" in seen["database_url"]
    assert seen["cwd"] == "/app"
    assert seen["client"][0] == "127.0.0.1" and isinstance(seen["client"][1], int)
    assert probe.app.sandboxed is True
    assert probe.app.base_url.startswith("http://127.0.0.1:")


def test_app_runs_as_its_own_unprivileged_uid(probe: Probe) -> None:
    if os.geteuid() == 0:
        assert probe.seen["uid"] in UID_RANGE
        assert probe.app.uid == probe.seen["uid"]
        assert probe.app.workdir is not None
        assert probe.app.workdir.stat().st_uid == probe.seen["uid"]
    else:
        assert probe.seen["uid"] == os.geteuid()


def test_app_sees_only_its_files_the_venv_and_the_system(
    probe: Probe, runtime_python: Path
) -> None:
    venv = runtime_python.absolute().parent.parent
    hidden = [
        str(PROJECT),
        str(PROJECT / "tasks"),
        "/root",
        "/home",
        str(default_grade_cache_dir()),
        str(CACHE_DIR / "images"),
        str(probe.app.workdir),
        "/var/run/docker.sock",
        "/run/postgresql",
        "/sys",
    ]
    seen = probe.post("/view", paths=[*hidden, str(venv), "/usr/bin/python3", "/app/main.py"])
    assert not [path for path in hidden if seen["exists"][path]], seen["exists"]
    assert seen["exists"][str(venv)] and seen["exists"]["/app/main.py"]
    assert set(seen["root"]) <= SANDBOX_ROOT, seen["root"]
    assert len(seen["pids"]) <= 4, seen["pids"]  # bwrap's init, the app, its relay, sleep
    assert probe.get("/write", path="/tmp/fine")["ok"] is True
    assert probe.get("/write", path="/app/fine.txt")["ok"] is True
    for path in ("/x", "/usr/x", f"{venv}/x", "/etc/x"):
        attempt = probe.get("/write", path=path)
        assert attempt["ok"] is False, path
    mounts = {line.split()[1]: line.split()[3] for line in seen["mounts"].splitlines()}
    assert mounts["/"].startswith("ro") and mounts["/usr"].startswith("ro")
    assert mounts[str(venv)].startswith("ro") and mounts["/app"].startswith("rw")


def test_network_reaches_only_its_database(
    probe: Probe, servers: dict[str, DatabaseServer]
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[object] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[1])
            except TimeoutError:
                continue

    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    own = probe.app.database.port
    attempts = {
        "a service on the host's loopback": probe.get(
            "/connect", host="127.0.0.1", port=listener.getsockname()[1]
        ),
        "the other database server": probe.get(
            "/connect", host="127.0.0.1", port=servers["mysql"].port
        ),
        "the internet": probe.get("/connect", host="1.1.1.1", port=53),
    }
    done.set()
    watcher.join()
    listener.close()
    assert not [what for what, result in attempts.items() if result["ok"]], attempts
    assert not accepted, "a candidate reached a service on the host"
    assert probe.get("/connect", host="127.0.0.1", port=own)["ok"] is True


def test_relays_carry_large_bodies_intact(probe: Probe) -> None:
    body = os.urandom(3 * 2**20)
    answer = httpx.post(f"{probe.app.base_url}/echo", content=body, timeout=30).json()
    assert answer == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _processes_running(marker: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_stopping_the_app_kills_what_it_spawned(
    probe: Probe, servers: dict[str, DatabaseServer]
) -> None:
    marker = b"sleep\x00299.25"
    assert _processes_running(marker), "the app's child is not running"
    uid, base = probe.app.uid, probe.app.workdir
    relay = probe.app.confinement.relay if probe.app.confinement else None
    assert relay is not None and relay.poll() is None
    probe.app.stop()
    deadline = time.monotonic() + 5
    while _processes_running(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_running(marker), "a child of the app still runs after stop"
    assert relay.poll() is not None, "the host relay still runs after stop"
    if uid is not None:
        assert _sandbox_processes_of(servers) == []
    assert base is not None and not base.exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(probe.app.base_url, timeout=2)


def test_local_postgres_wants_a_password_on_its_socket_too(
    servers: dict[str, DatabaseServer],
) -> None:
    server = servers["postgres"]
    owner = server.owner
    assert owner is not None, "the session's PostgreSQL server must be the harness's own"
    folder = owner.workdir  # type: ignore[attr-defined]
    assert list(Path(folder).glob(".s.PGSQL.*")), "no Unix socket to try"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host=str(folder), port=server.port, user=ADMIN_USER, dbname="postgres")


# -- hostile answers, graded for real -------------------------------------------------------


def _files(name: str) -> dict[str, str]:
    response = ModelResponse(text=(HOSTILE / f"{name}.md").read_text(), model="fixture")
    files, _ = extract_response(response)
    assert "main.py" in files
    return files


def _digest(paths: tuple[Path, ...]) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def _grade(
    task: Task,
    files: dict[str, str],
    server: DatabaseServer,
    runtime: Runtime,
    folder: Path,
) -> tuple[SampleResult, str]:
    folder.mkdir(parents=True, exist_ok=True)
    result = grade_files(
        task,
        files,
        server,
        runtime,
        folder,
        PROOF_GRADERS,
        startup_timeout_s=HOSTILE_TIMEOUT_S,
    )
    log = (folder / "app.log").read_text(errors="replace")
    return result, log


def _reported(log: str, label: str) -> Any:
    """What a hostile fixture printed as `HOSTILE <label>: <python literal>`."""
    match = re.search(rf"^HOSTILE {label}: (.*)$", log, re.MULTILINE)
    assert match, f"the fixture did not report {label!r}:\n{log[-3000:]}"
    return ast.literal_eval(match.group(1))


def _assert_not_credited(result: SampleResult) -> None:
    assert result.infra_error is None, result.infra_error
    assert result.sandboxed is True
    assert result.scores["functional"] == 0.0, result.scores
    assert result.correct_and_secure is not True


def _sandbox_processes_of(servers: dict[str, DatabaseServer]) -> list[str]:
    """Live processes of a sandbox uid that belong to these servers' samples (by the
    database port in their environment or command line): other test sessions on this
    machine run sandboxes of their own."""
    ports = [f"127.0.0.1:{server.port}".encode() for server in servers.values()]
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text() if entry.name.isdigit() else ""
            if not status:
                continue
            fields = {k: v.split() for k, _, v in (x.partition(":") for x in status.splitlines())}
            if fields["State"][0] == "Z" or int(fields["Uid"][0]) not in UID_RANGE:
                continue
            seen = (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes()
        except (OSError, KeyError, IndexError):
            continue
        if any(port in seen for port in ports):
            found.append(f"{entry.name}: {fields['Name']}")
    return found


def _assert_harness_untouched(servers: dict[str, DatabaseServer], before: dict[str, str]) -> None:
    assert _digest(PROTECTED) == before, "a protected harness file changed"
    for server in servers.values():
        assert server.version()
        owner = server.owner
        if owner is not None:
            assert owner.process.poll() is None  # type: ignore[attr-defined]
    assert _sandbox_processes_of(servers) == [], "sandbox processes left running"


@pytest.fixture
def untouched(servers: dict[str, DatabaseServer]) -> Iterator[None]:
    before = _digest(PROTECTED)
    yield
    _assert_harness_untouched(servers, before)


def test_hostile_import_of_the_reference_is_not_credited(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    result, log = _grade(
        user_crud, _files("imports-reference"), servers["postgres"], local_runtime, tmp_path
    )
    assert "HOSTILE reference not found" in log, log[-3000:]
    assert result.boot.ok
    _assert_not_credited(result)


def test_hostile_overwrite_of_tests_graders_and_venv_changes_nothing(
    servers,
    runtime_python: Path,
    local_runtime: Runtime,
    user_crud: Task,
    tmp_path: Path,
    untouched: None,
) -> None:
    venv = runtime_python.absolute().parent.parent
    sitecustomize = venv / "lib" / "python3.11" / "site-packages" / "sitecustomize.py"
    result, log = _grade(
        user_crud, _files("overwrites-harness"), servers["postgres"], local_runtime, tmp_path
    )
    assert _reported(log, "overwrote") == []
    assert _reported(log, "targets found") == 2  # only the venv and the grade cache
    refused = _reported(log, "refused")
    assert any("sitecustomize.py: OSError" in item for item in refused), refused
    assert not sitecustomize.exists()
    assert not (default_grade_cache_dir() / "poisoned.json").exists()
    assert result.boot.ok
    _assert_not_credited(result)


def test_hostile_environ_scan_finds_no_harness_secrets(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    result, log = _grade(
        user_crud, _files("reads-harness-environ"), servers["postgres"], local_runtime, tmp_path
    )
    assert _reported(log, "found") == []
    scanned = log.split("HOSTILE scanned: ")[1].split()[0]
    assert 1 <= int(scanned) <= 8, "it scanned its own sandbox's processes, and only those"
    assert result.boot.ok
    _assert_not_credited(result)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_hostile_superuser_logins_all_fail(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, kind: str, untouched: None
) -> None:
    result, log = _grade(
        user_crud, _files("database-superuser"), servers[kind], local_runtime, tmp_path
    )
    assert _reported(log, "logins") == []
    assert _reported(log, "sockets") == []
    assert result.boot.ok
    _assert_not_credited(result)


def test_hostile_kill_everything_kills_only_itself(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    server = servers["postgres"]
    result, log = _grade(user_crud, _files("kills-everything"), server, local_runtime, tmp_path)
    seen = _reported(log, "saw")
    assert len(seen) <= 3, seen  # bwrap's init and the relay: nothing of the host
    assert not [name for name in seen if re.search(r"postgres|mariadb|mysql|pytest", name)]
    assert result.infra_error is None, result.infra_error
    assert result.boot.ok is False or result.scores["functional"] == 0.0
    # a second grade on the same server still works
    (tmp_path / "after").mkdir()
    again = grade_files(
        user_crud,
        user_crud.reference_files(),
        server,
        local_runtime,
        tmp_path / "after",
        PROOF_GRADERS,
        must_boot=True,
    )
    assert again.scores["functional"] == 1.0


def test_answer_with_its_own_tmp_folder_boots(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    files = _files("tmp-folder")
    assert "tmp/x.py" in files
    result, log = _grade(user_crud, files, servers["postgres"], local_runtime, tmp_path)
    assert result.infra_error is None, result.infra_error
    assert result.boot.ok, log[-2000:]
    assert not [f for f in result.findings if f.check == "app-starts"], result.findings
    assert result.sandboxed is True


def test_parallel_candidates_cannot_see_each_other(
    servers, local_runtime: Runtime, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    server = servers["postgres"]
    snoop = _files("snoops-on-neighbours")
    jobs = [
        ("snoop-a", snoop),
        ("snoop-b", snoop),
        ("reference", user_crud.reference_files()),
    ]

    def grade(job: tuple[str, dict[str, str]]) -> tuple[SampleResult, str]:
        name, files = job
        return _grade(user_crud, files, server, local_runtime, tmp_path / name)

    with ThreadPoolExecutor(max_workers=len(jobs)) as workers:
        (snoop_a, log_a), (snoop_b, log_b), (reference, _) = list(workers.map(grade, jobs))
    for result, log in ((snoop_a, log_a), (snoop_b, log_b)):
        assert _reported(log, "processes") == []
        assert _reported(log, "files") == []
        assert _reported(log, "planted") == []
        _assert_not_credited(result)
    window_a = log_a.split("HOSTILE window: ")[1].split()[:2]
    window_b = log_b.split("HOSTILE window: ")[1].split()[:2]
    assert float(window_a[0]) < float(window_b[1]) and float(window_b[0]) < float(window_a[1])
    if os.geteuid() == 0:
        assert _reported(log_a, "uid") != _reported(log_b, "uid")
    assert reference.infra_error is None and reference.scores["functional"] == 1.0
    assert not list((tmp_path / "reference").glob("**/planted.txt"))


def test_reference_control_the_cheat_works_without_the_sandbox(
    servers, runtime_python: Path, user_crud: Task, tmp_path: Path, untouched: None
) -> None:
    """The sandbox, not a broken fixture, is what stops `imports-reference`: unsandboxed
    (as `nobody` when root), the same answer finds the checkout whenever it is readable."""
    runtime = LocalRuntime(runtime_python)
    runtime.sandboxed = False
    result, log = _grade(
        user_crud,
        _files("imports-reference"),
        servers["postgres"],
        runtime,
        tmp_path,
    )
    assert result.sandboxed is False and result.infra_error is None
    reference = PROJECT / "tasks" / "user-crud" / "reference" / "main.py"
    readable = os.geteuid() != 0 or _world_readable(reference)
    if readable:
        assert "HOSTILE reference found" in log, log[-2000:]
        assert result.scores["functional"] == 1.0


def _world_readable(path: Path) -> bool:
    if not path.stat().st_mode & 0o004:
        return False
    return all(folder.stat().st_mode & 0o001 for folder in path.parents)


# -- where the sandbox cannot run -----------------------------------------------------------


def test_without_bubblewrap_the_reason_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = sandbox_unavailable_reason()
    assert reason is not None and "bubblewrap is not installed" in reason


def test_when_bubblewrap_cannot_make_namespaces_the_reason_says_why(
    runtime_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)  # the probe runs it as a sandbox uid when root
        fake = folder / "bwrap"
        fake.write_text(
            "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
        )
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
        namespace._probe.cache_clear()
        try:
            reason = sandbox_unavailable_reason(runtime_python)
        finally:
            namespace._probe.cache_clear()
    assert reason is not None, "a bwrap that cannot sandbox was taken for one that can"
    assert "cannot create a sandbox here" in reason
    assert "No permissions to create new namespace" in reason


def test_unsandboxed_fallback_is_loud_once_and_flagged(
    servers,
    runtime_python: Path,
    user_crud: Task,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HARNESS_LOCAL_SANDBOX", "off")
    monkeypatch.setattr(namespace, "_warned", threading.Event())
    runtime = LocalRuntime(runtime_python)
    second = LocalRuntime(runtime_python)
    warned = capsys.readouterr().err
    assert warned.count("WITHOUT a sandbox") == 1, warned
    assert "HARNESS_LOCAL_SANDBOX" in warned
    assert runtime.sandboxed is False and second.sandboxed is False
    assert runtime.describe()["sandbox"].startswith("none: ")
    result, _ = _grade(user_crud, _files("tmp-folder"), servers["postgres"], runtime, tmp_path)
    assert result.infra_error is None and result.boot.ok
    assert result.sandboxed is False
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["sandboxed"] is False
