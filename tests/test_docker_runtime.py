"""The docker runtime for real: a Docker engine, database servers from testcontainers,
candidates in locked-down containers.

A test here needs the engine: it starts one (scripts/start-docker.sh) or fails saying
why, never skips. Images are built when missing (offline when no registry answers):
`.ci/run` builds them first, so here they are normally cached.

The last test closes the run and asserts, by labels, that nothing of it is left.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from harness.core.settings import APP_LOG_LIMIT_BYTES, RUNTIME_REQUIREMENTS
from harness.core.tasks import Task
from harness.grading.pipeline import DEFAULT_GRADERS
from harness.grading.selftest import _judge_mutant
from harness.providers import ModelResponse
from harness.run.generation import extract_response
from harness.sandbox.databases import DatabaseServer, SampleDatabase
from harness.sandbox.docker.app import AppLimits, DockerApp
from harness.sandbox.docker.backend import DockerBackend, docker_unavailable_reason
from harness.sandbox.docker.engine import (
    LABEL_OWNER,
    LABEL_ROLE,
    LABEL_RUN,
    EngineUnavailable,
    Owner,
    connect_engine,
    engine_answers,
    leftovers,
    sweep_dead_runs,
)
from harness.sandbox.docker.images import ensure_images
from tests.support.grading import grade_files

PROJECT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
RUN_ID = f"test-docker-{os.getpid()}-{secrets.token_hex(3)}"
KINDS = ("postgres", "mysql")
HOSTILE_TIMEOUT_S = 8.0

PROBE_APP = r"""
import os
import pathlib
import socket

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

app = FastAPI()


def _read(path):
    try:
        return pathlib.Path(path).read_text().strip()
    except OSError as exc:
        return f"error: {exc}"


@app.get("/whoami")
async def whoami():
    lines = _read("/proc/self/status").splitlines()
    status = {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "cap_eff": status["CapEff"],
        "cap_bnd": status["CapBnd"],
        "no_new_privs": status["NoNewPrivs"],
        "env": sorted(os.environ),
        "database_url": os.environ["DATABASE_URL"],
        "memory_limit": _read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        "memory_max": _read("/sys/fs/cgroup/memory.max"),
        "pids_limit": _read("/sys/fs/cgroup/pids/pids.max"),
        "pids_max": _read("/sys/fs/cgroup/pids.max"),
        "cpu_quota": _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
        "cpu_period": _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
        "cpu_max": _read("/sys/fs/cgroup/cpu.max"),
        "mounts": _read("/proc/self/mounts"),
        "ipv6_disabled": _read("/proc/sys/net/ipv6/conf/all/disable_ipv6"),
    }


@app.get("/write")
async def write(path: str):
    try:
        pathlib.Path(path).write_text("x")
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


@app.get("/connect")
def connect(host: str, port: int):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


@app.get("/resolve")
def resolve(name: str):
    try:
        return {"ok": True, "addresses": sorted({a[4][0] for a in socket.getaddrinfo(name, 80)})}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


@app.post("/sql")
async def sql(body: dict):
    url = make_url(os.environ["DATABASE_URL"])
    if body.get("database"):
        url = url.set(database=body["database"])
    engine = create_async_engine(url)
    try:
        rows = []
        async with engine.begin() as conn:
            for statement in body["statements"]:
                result = await conn.execute(text(statement))
                if result.returns_rows:
                    rows = [[str(v) for v in row] for row in result]
        return {"ok": True, "rows": rows}
    except Exception as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {str(exc)[:300]}"}
    finally:
        await engine.dispose()
"""


def _engine_or_fail() -> None:
    """Start the engine when none answers; fail clearly when that is impossible."""
    ok, detail = engine_answers()
    if ok:
        return
    started = subprocess.run(
        ["bash", str(PROJECT / "scripts" / "start-docker.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    ok, detail = engine_answers()
    if not ok:
        pytest.fail(
            "the docker runtime tests need a Docker engine and none could be started "
            f"({detail}); scripts/start-docker.sh said:\n{started.stderr[-2000:]}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def backend() -> Iterator[DockerBackend]:
    _engine_or_fail()
    began = time.monotonic()
    with DockerBackend(RUN_ID) as opened:
        print(f"docker backend ready in {time.monotonic() - began:.1f}s: {opened.describe()}")
        yield opened


@pytest.fixture(scope="module")
def docker_servers(backend: DockerBackend) -> Iterator[dict[str, DatabaseServer]]:
    servers: dict[str, DatabaseServer] = {}
    try:
        for kind in KINDS:
            servers[kind] = backend.open_server(kind)
        yield servers
    finally:
        for server in servers.values():
            server.close()


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    engine = connect_engine()
    yield engine
    engine.close()


def _grade(
    backend: DockerBackend,
    server: DatabaseServer,
    task: Task,
    files: dict[str, str],
    folder: Path,
    timeout_s: float = 20.0,
):
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    result = grade_files(
        task,
        files,
        server,
        backend.runtime,
        folder,
        DEFAULT_GRADERS,
        startup_timeout_s=timeout_s,
    )
    return result, time.monotonic() - began


def _candidates_of_the_run(engine: docker.DockerClient) -> tuple[list[str], list[str]]:
    labels = [f"{LABEL_RUN}={RUN_ID}"]
    containers = engine.containers.list(
        all=True, filters={"label": [*labels, f"{LABEL_ROLE}=candidate"]}
    )
    networks = engine.networks.list(filters={"label": [*labels, f"{LABEL_ROLE}=candidate-network"]})
    return [str(c.name) for c in containers], [str(n.name) for n in networks]


class Probe:
    """A probe app in the docker runtime, bound to a fresh sample database."""

    def __init__(self, backend: DockerBackend, server: DatabaseServer, folder: Path) -> None:
        self.server = server
        self.database: SampleDatabase = server.create_sample_database("probe")
        folder.mkdir(parents=True, exist_ok=True)
        self.app: DockerApp = backend.runtime.make_app(
            {"main.py": PROBE_APP}, self.database, folder / "app.log", None
        )
        self.http = httpx.Client(timeout=15, trust_env=False)

    def start(self) -> Probe:
        outcome = self.app.start(30)
        assert outcome.ok, outcome.error
        return self

    def get(self, route: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(f"{self.app.base_url}{route}", params=params)
        response.raise_for_status()
        return dict(response.json())

    def sql(self, *statements: str, database: str | None = None) -> dict[str, Any]:
        body = {"statements": list(statements), "database": database}
        response = self.http.post(f"{self.app.base_url}/sql", json=body)
        response.raise_for_status()
        return dict(response.json())

    def close(self) -> None:
        self.http.close()
        self.app.stop()
        self.server.drop_sample_database(self.database)


@pytest.fixture
def probe(backend: DockerBackend, docker_servers, tmp_path: Path) -> Iterator[Probe]:
    opened = Probe(backend, docker_servers["postgres"], tmp_path / "probe")
    try:
        yield opened.start()
    finally:
        opened.close()


# -- the engine, the images, the servers ------------------------------------------------


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EngineUnavailable) as raised:
        connect_engine()
    message = str(raised.value)
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in message
    assert "RUNTIME=local" in message and "start-docker.sh" in message
    reason = docker_unavailable_reason()
    assert reason is not None and "no Docker engine answers" in reason


def test_images_are_cached_and_the_runtime_holds_exactly_the_pins(
    backend: DockerBackend, client: docker.DockerClient
) -> None:
    began = time.monotonic()
    again = ensure_images(client, build=False)
    assert again == backend.images
    assert time.monotonic() - began < 5, "a cached image set must not rebuild"
    config = client.images.get(backend.images.runtime).attrs["Config"]
    assert config["User"] == "10001:10001"
    listing = client.containers.run(
        backend.images.runtime,
        [
            "python",
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))",
        ],
        remove=True,
        network_mode="none",
        labels={LABEL_RUN: RUN_ID, LABEL_OWNER: Owner.current().label()},
    )
    installed = json.loads(listing)
    pins = {}
    for line in RUNTIME_REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.split("[")[0].lower()] = version
    assert {name: installed.get(name) for name in pins} == pins
    assert "pip" not in installed and "setuptools" not in installed


def test_servers_are_containers_whose_versions_are_recorded(
    backend: DockerBackend, docker_servers, client: docker.DockerClient
) -> None:
    assert "PostgreSQL" in docker_servers["postgres"].version()
    assert any(name in docker_servers["mysql"].version() for name in ("MariaDB", "8.4"))
    for kind, server in docker_servers.items():
        container = client.containers.get(server.endpoint.container_id)
        assert container.labels[LABEL_RUN] == RUN_ID
        assert container.labels[LABEL_ROLE] == "database"
        assert container.attrs["NetworkSettings"]["Ports"] in ({}, None), "nothing published"
        assert server.image == backend.images.database(kind)


# -- the reference and its mutants ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reference_scores_full_marks(
    backend: DockerBackend, docker_servers, user_crud: Task, tmp_path: Path, kind: str
) -> None:
    result, _ = _grade(
        backend, docker_servers[kind], user_crud, user_crud.reference_files(), tmp_path
    )
    assert result.infra_error is None
    assert result.boot.ok, result.boot.error
    # Every grader ran against the container and found nothing: fuzz and security probe
    # the candidate's address on its internal network, not only loopback.
    assert result.scores == {name: 1.0 for name in result.scores}, [
        (f.check, f.message) for f in result.findings
    ]
    assert {"fuzz", "security", "functional"} <= set(result.scores)
    assert (tmp_path / "app.log").read_text().count("Application startup complete") == 1


MUTANTS = ("plaintext-password", "duplicate-email-500", "naive-timestamps", "delete-leaves-listed")


def test_mutants_fail_as_in_the_local_runtime_graded_in_parallel(
    backend: DockerBackend, docker_servers, user_crud: Task, tmp_path: Path
) -> None:
    cells = [(name, kind) for name in MUTANTS for kind in KINDS]

    def grade(cell: tuple[str, str]):
        name, kind = cell
        files = user_crud.mutant_files(user_crud.mutant(name))
        result, _ = _grade(
            backend, docker_servers[kind], user_crud, files, tmp_path / f"{name}-{kind}"
        )
        return cell, _judge_mutant(user_crud, name, result), result.scores

    with ThreadPoolExecutor(max_workers=2) as workers:
        judged = list(workers.map(grade, cells))
    missed = [f"{name}/{kind}: {cell.summary}" for (name, kind), cell, _ in judged if not cell.ok]
    assert not missed
    # The probing graders catch in a container what they catch locally.
    scores = {cell: by_grader for cell, _, by_grader in judged}
    for kind in KINDS:
        assert scores[("duplicate-email-500", kind)]["fuzz"] < 1.0, scores
        assert scores[("plaintext-password", kind)]["security"] < 1.0, scores


# -- hostile candidates -----------------------------------------------------------------

HOSTILE_EXPECTATIONS = {
    "fork-bomb": "not ready within",
    "memory-hog": "killed: out of memory, limit 512 MB",
    "infinite-loop": "not ready within",
    "never-ready": "not ready within",
    "outbound-connection": "outbound connection failed for every target",
    "writes-outside-tmp": "Read-only file system",
    "log-flood": "log flood finished",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_EXPECTATIONS))
def test_hostile_candidate_is_a_recorded_failure_and_leaves_nothing(
    backend: DockerBackend,
    docker_servers,
    user_crud: Task,
    tmp_path: Path,
    client: docker.DockerClient,
    name: str,
) -> None:
    response = ModelResponse(text=(HOSTILE / f"{name}.md").read_text(), model="fixture")
    files, _ = extract_response(response)
    assert "main.py" in files
    result, elapsed = _grade(
        backend, docker_servers["postgres"], user_crud, files, tmp_path, HOSTILE_TIMEOUT_S
    )
    assert result.infra_error is None
    assert result.boot.ok is False
    assert result.scores["boot"] == 0.0 and result.scores["functional"] == 0.0
    finding = next(f for f in result.findings if f.grader == "boot" and f.check == "app-starts")
    assert HOSTILE_EXPECTATIONS[name] in finding.evidence, finding.evidence
    assert elapsed < HOSTILE_TIMEOUT_S + 10, f"{name} took {elapsed:.1f}s"
    log = tmp_path / "app.log"
    assert log.stat().st_size <= APP_LOG_LIMIT_BYTES + 200
    if name == "log-flood":
        assert "bytes dropped; the last output of each stream follows" in log.read_text()
    if name == "outbound-connection":
        text = log.read_text()
        for target in ("pypi.org:443", "151.101.0.223:443", "1.1.1.1:53", "8.8.8.8:53"):
            assert f"  {target}: " in text, text
    # the harness survives: it still forks, its servers answer, nothing of the app is left
    assert subprocess.run(["true"], check=False).returncode == 0
    assert docker_servers["postgres"].version()
    assert _candidates_of_the_run(client) == ([], [])


# -- what a candidate can and cannot do -------------------------------------------------


def test_candidate_is_unprivileged_limited_and_read_only(probe: Probe) -> None:
    seen = probe.get("/whoami")
    assert seen["uid"] == 10001 and seen["gid"] == 10001
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert not [name for name in seen["env"] if name.startswith("HARNESS_")]
    assert "@postgres:5432/" in seen["database_url"], "alias and internal port"
    memory = seen["memory_limit"] if seen["memory_limit"].isdigit() else seen["memory_max"]
    assert int(memory) == 512 * 2**20
    pids = seen["pids_limit"] if seen["pids_limit"].isdigit() else seen["pids_max"]
    assert int(pids) == AppLimits().pids
    if seen["cpu_quota"].lstrip("-").isdigit():
        assert int(seen["cpu_quota"]) == int(seen["cpu_period"])
    else:
        quota, period = seen["cpu_max"].split()
        assert quota == period
    assert seen["ipv6_disabled"] == "1"
    root = next(line for line in seen["mounts"].splitlines() if line.split()[1] == "/")
    assert "ro," in root.split()[3] + ","
    assert probe.get("/write", path="/tmp/fine")["ok"] is True
    for path in ("/app/x.py", "/etc/x", "/opt/runtime/x", "/var/tmp/x"):
        attempt = probe.get("/write", path=path)
        assert attempt["ok"] is False and "Read-only file system" in attempt["error"], path


def test_container_settings_as_the_engine_sees_them(
    probe: Probe, client: docker.DockerClient
) -> None:
    assert probe.app.container is not None
    host = client.containers.get(str(probe.app.container.id)).attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == 512 * 2**20 and host["MemorySwap"] == 512 * 2**20
    assert host["NanoCpus"] == 10**9 and host["PidsLimit"] == AppLimits().pids
    assert host["Privileged"] is False and not host.get("PortBindings")
    assert "/tmp" in host["Tmpfs"]


def test_no_egress_only_the_database(
    probe: Probe, docker_servers, client: docker.DockerClient
) -> None:
    assert probe.app.network is not None
    probe.app.network.reload()
    gateway = probe.app.network.attrs["IPAM"]["Config"][0]["Gateway"]
    assert probe.app.network.attrs["Internal"] is True
    # a service on every host interface, reachable from the host itself
    listener = socket.create_server(("0.0.0.0", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
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
    public = socket.gethostbyname("deb.debian.org")
    socket.create_connection((public, 80), timeout=10).close()  # the host itself has egress
    admin_ip = docker_servers["postgres"].endpoint.host
    attempts = {
        "host via the bridge gateway": probe.get("/connect", host=gateway, port=port),
        "docker0 gateway": probe.get("/connect", host="172.17.0.1", port=port),
        "internet by address": probe.get("/connect", host=public, port=80),
        "internet by name": probe.get("/connect", host="deb.debian.org", port=80),
        "server on the admin network": probe.get("/connect", host=admin_ip, port=5432),
    }
    dns = probe.get("/resolve", name="pypi.org")
    alias = probe.get("/resolve", name="postgres")
    database = probe.get("/connect", host="postgres", port=5432)
    done.set()
    watcher.join()
    listener.close()
    print(json.dumps({**attempts, "dns pypi.org": dns, "dns postgres": alias}, indent=1))
    assert not [what for what, result in attempts.items() if result["ok"]], attempts
    assert not accepted, "a candidate reached a service on the host"
    assert dns["ok"] is False
    assert alias["ok"] is True and database["ok"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_parallel_samples_cannot_see_each_other(
    backend: DockerBackend, docker_servers, tmp_path: Path, kind: str
) -> None:
    server = docker_servers[kind]
    probes = [Probe(backend, server, tmp_path / name) for name in ("a", "b")]
    try:
        with ThreadPoolExecutor(max_workers=2) as workers:
            list(workers.map(Probe.start, probes))
        a, b = probes
        for me, secret in ((a, "secret_a"), (b, "secret_b")):
            made = me.sql(
                f"CREATE TABLE {secret} (v VARCHAR(20))", f"INSERT INTO {secret} VALUES ('x')"
            )
            assert made["ok"], made
        schema = "current_schema()" if kind == "postgres" else "database()"
        tables = a.sql(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"
        )
        assert tables["rows"] == [["secret_a"]]
        other = a.sql("SELECT * FROM secret_b", database=b.database.name)
        assert other["ok"] is False and (
            "permission denied" in other["error"] or "Access denied" in other["error"]
        ), other
        if kind == "mysql":
            qualified = a.sql(f"SELECT * FROM {b.database.name}.secret_b")
            assert qualified["ok"] is False and "denied" in qualified["error"], qualified
        if kind == "mysql":
            listing = a.sql("SHOW DATABASES")
            assert b.database.name not in {row[0] for row in listing["rows"]}
        reach = a.get("/connect", host=b.app.address, port=8000)
        assert reach["ok"] is False, "a candidate reached another sample's app"
    finally:
        for opened in probes:
            opened.close()


# -- hygiene ----------------------------------------------------------------------------


def test_a_failed_start_leaves_nothing_behind(
    backend: DockerBackend, docker_servers, tmp_path: Path, client: docker.DockerClient
) -> None:
    server = docker_servers["postgres"]
    database = server.create_sample_database("nope")
    try:
        app = DockerApp(
            {"main.py": "app = None\n"},
            database,
            tmp_path / "app.log",
            None,
            session=backend.session,
            image="backend-agent-eval/no-such-image:0",
            limits=AppLimits(),
        )
        outcome = app.start(10)
        assert outcome.ok is False and outcome.infra_error is not None
        assert "no-such-image" in outcome.infra_error
        assert app.staging is None and app.network is None and app.container is None
        assert _candidates_of_the_run(client) == ([], [])
        stranger = SampleDatabase("postgres", "10.9.9.9", 5432, "x", "y", "z")
        lost = backend.runtime.make_app({"main.py": ""}, stranger, tmp_path / "b.log", None)
        outcome = lost.start(10)
        assert (
            outcome.infra_error is not None and "no docker database server" in outcome.infra_error
        )
        assert _candidates_of_the_run(client) == ([], [])
    finally:
        server.drop_sample_database(database)


def test_sweep_removes_dead_runs_and_spares_live_ones(
    backend: DockerBackend, client: docker.DockerClient
) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_owner = Owner(socket.gethostname(), finished.pid, "1").label()
    dead_run = f"{RUN_ID}-dead"
    dead = {LABEL_RUN: dead_run, LABEL_OWNER: dead_owner, LABEL_ROLE: "candidate"}
    network = client.networks.create(f"hbe-{dead_run}", internal=True, labels=dead)
    container = client.containers.create(
        backend.images.runtime, ["sleep", "60"], labels=dead, network=str(network.name)
    )
    volume = client.volumes.create(labels=dead)
    live = backend.session.create_network("candidate-network")
    try:
        swept = sweep_dead_runs(client)
        assert dead_run in swept
        assert leftovers(client, dead_run).empty()
        live.reload()  # still there: its owner (this process) is alive
    finally:
        live.remove()
        for remove in (lambda: container.remove(force=True), network.remove, volume.remove):
            try:
                remove()
            except docker.errors.NotFound:
                pass


def test_zz_nothing_of_the_run_is_left_after_the_suite(
    backend: DockerBackend, docker_servers, client: docker.DockerClient
) -> None:
    """Last: every sample database was dropped; closing removes every labelled thing."""
    for kind, server in docker_servers.items():
        if kind == "postgres":
            names = server._execute("SELECT datname FROM pg_database WHERE datname LIKE 's\\_%'")
        else:
            names = server._execute("SHOW DATABASES LIKE 's\\_%'")
        assert names == [], f"sample databases left on {kind}: {names}"
    assert _candidates_of_the_run(client) == ([], [])
    for server in docker_servers.values():
        server.close()
    backend.close()
    left = leftovers(client, RUN_ID)
    assert left.empty(), str(left)
    assert not client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={RUN_ID}-dead"})
