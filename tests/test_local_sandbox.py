"""What the local runtime promises about a candidate process: an unprivileged account
(when the harness is root), an environment without the harness's secrets, and nothing
left running after it is stopped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from harness.sandbox.databases import DatabaseServer
from harness.sandbox.local_app import LocalApp

PROBE_APP = """
import os
import subprocess

from fastapi import FastAPI

app = FastAPI()
child = subprocess.Popen(["sleep", "300"])


@app.get("/probe")
async def probe() -> dict[str, object]:
    return {"uid": os.getuid(), "env": sorted(os.environ), "child": child.pid,
            "database_url": os.environ["DATABASE_URL"]}
"""


@pytest.fixture
def probe(servers: dict[str, DatabaseServer], runtime_python: Path, tmp_path: Path):
    server = servers["postgres"]
    database = server.create_sample_database("probe")
    app = LocalApp({"main.py": PROBE_APP}, database, runtime_python, tmp_path / "app.log")
    try:
        outcome = app.start(15)
        assert outcome.ok, outcome.error
        yield app, httpx.get(f"{app.base_url}/probe", timeout=5).json()
    finally:
        app.stop()
        server.drop_sample_database(database)


def test_app_sees_only_its_own_environment(probe, server_urls) -> None:
    app, seen = probe
    assert "DATABASE_URL" in seen["env"]
    assert not [name for name in seen["env"] if name.startswith("HARNESS_")]
    assert app.database.password in seen["database_url"]
    assert app.database.user in seen["database_url"]


def test_app_runs_unprivileged_when_the_harness_is_root(probe) -> None:
    _, seen = probe
    if os.geteuid() == 0:
        assert seen["uid"] != 0
    else:
        assert seen["uid"] == os.geteuid()


def test_stopping_the_app_kills_what_it_spawned(probe) -> None:
    app, seen = probe
    child = seen["child"]
    os.kill(child, 0)
    app.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"child {child} of the app still runs after stop")
