"""What the local runtime's bubblewrap sandbox costs: boot of the user-crud reference
(start() to ready, and stop()), and request latency through the relays, sandboxed vs
unsandboxed, on each database. Prints the figures; asserts nothing.

    .venv/bin/python bench/local_sandbox.py             # 5 boots, 400 requests per mode
    .venv/bin/python bench/local_sandbox.py --boots 9 --requests 1000 --db postgres

Requests: `GET /users?limit=5` (a database round trip: both relays when sandboxed) over
one keep-alive connection, then over a new connection each (the graders' httpx clients
do both), and a 1 MB `POST` body through the app's relay.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from harness.core.tasks import load_task
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.local.app import LocalApp
from harness.sandbox.local.namespace import sandbox_unavailable_reason
from harness.sandbox.local.runtime_venv import ensure_runtime_venv
from harness.sandbox.servers import database_servers

MODES = {"unsandboxed": False, "sandboxed": True}


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms"


def _timed(action: Callable[[], object], times: int) -> list[float]:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        spent.append(time.perf_counter() - began)
    return spent


def _app(
    server: DatabaseServer, python: Path, folder: Path, sandbox: bool, label: str
) -> tuple[LocalApp, float]:
    files = load_task("user-crud").reference_files()
    database = server.create_sample_database(label)
    app = LocalApp(files, database, python, folder / f"{label}.log", sandbox=sandbox)
    outcome = app.start(60)
    if not outcome.ok:
        app.stop()
        raise SystemExit(f"{label}: boot failed: {outcome.error}")
    return app, outcome.seconds


def _close(app: LocalApp, server: DatabaseServer) -> float:
    began = time.perf_counter()
    app.stop()
    spent = time.perf_counter() - began
    server.drop_sample_database(app.database)
    return spent


def bench(server: DatabaseServer, python: Path, boots: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for mode, sandbox in MODES.items():
            starts: list[float] = []
            stops: list[float] = []
            for run in range(boots):
                app, seconds = _app(server, python, folder, sandbox, f"bench_{mode}_{run}")
                starts.append(seconds)
                stops.append(_close(app, server))
            print(f"  {mode:12} boot   {_ms(starts)}")
            print(f"  {mode:12} stop   {_ms(stops)}")
        for mode, sandbox in MODES.items():
            app, _ = _app(server, python, folder, sandbox, f"bench_{mode}_requests")
            try:
                figures = _latencies(app.base_url, requests)
            finally:
                _close(app, server)
            for what, spent in figures.items():
                print(f"  {mode:12} {what:19} {_ms(spent)}")


def _latencies(base_url: str, requests: int) -> dict[str, list[float]]:
    url = f"{base_url}/users?limit=5"
    body = b"x" * 2**20
    with httpx.Client(timeout=10) as client:
        client.get(url).raise_for_status()
        kept = _timed(lambda: client.get(url).raise_for_status(), requests)
        big = _timed(lambda: client.post(f"{base_url}/nowhere", content=body), 20)

    def fresh() -> None:
        with httpx.Client(timeout=10) as one:
            one.get(url).raise_for_status()

    new = _timed(fresh, max(1, requests // 4))
    return {"GET keep-alive": kept, "GET new connection": new, "POST 1 MB": big}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--db", default="postgres,mysql")
    args = parser.parse_args()
    python = ensure_runtime_venv()
    began = time.perf_counter()
    reason = sandbox_unavailable_reason(python)
    print(f"sandbox probe: {(time.perf_counter() - began) * 1000:.0f} ms (once per process)")
    if reason is not None:
        raise SystemExit(f"the sandbox cannot run here: {reason}")
    kinds = tuple(args.db.split(","))
    with database_servers(kinds) as servers:
        for kind in kinds:
            print(f"{kind}:")
            bench(servers[kind], python, args.boots, args.requests)


if __name__ == "__main__":
    main()
