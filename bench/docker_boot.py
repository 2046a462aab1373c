"""Docker runtime figures: image build, warm start of the database servers, and the boot
of one candidate (the user-crud reference) in a container vs the local runtime, median
of 5 per database. Prints the figures; asserts nothing.

    .venv/bin/python bench/docker_boot.py          # images as they are (built if missing)
    .venv/bin/python bench/docker_boot.py --cold   # first removes the harness's images and
                                                   # cached rootfs/wheelhouse: a cold build
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.core.settings import DATABASE_KINDS
from harness.core.tasks import load_task
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.docker.backend import DockerBackend
from harness.sandbox.docker.engine import connect_engine
from harness.sandbox.docker.images import IMAGES_CACHE, LABEL_RECIPE, build_images
from harness.sandbox.local.runtime import LocalRuntime
from harness.sandbox.local.runtime_venv import ensure_runtime_venv
from harness.sandbox.runtime import CandidateApp, Runtime
from harness.sandbox.servers import database_servers

RUNS = 5
KINDS = DATABASE_KINDS


def _forget_images() -> None:
    client = connect_engine()
    for image in client.images.list(filters={"label": LABEL_RECIPE}):
        for tag in image.tags:
            client.images.remove(tag, force=True)
    client.close()
    for entry in IMAGES_CACHE.glob("*"):
        if entry.name.startswith(("rootfs-", "wheelhouse-")):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _cold_build(offline: bool) -> float:
    _forget_images()
    began = time.monotonic()
    client = connect_engine()
    build_images(client, offline=offline)
    client.close()
    return time.monotonic() - began


def _boots(
    runtime: Runtime, server: DatabaseServer, files: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Seconds from start() to ready, and of stop(), for RUNS fresh databases."""
    boots: list[float] = []
    stops: list[float] = []
    for run in range(RUNS):
        database = server.create_sample_database(f"bench_{run}")
        with tempfile.TemporaryDirectory() as folder:
            app: CandidateApp = runtime.make_app(files, database, Path(folder) / "app.log", None)
            try:
                outcome = app.start(60)
                if not outcome.ok:
                    raise SystemExit(f"{runtime.name}: boot failed: {outcome.error}")
                boots.append(outcome.seconds)
            finally:
                stops.append(_timed(app.stop)[0])
                server.drop_sample_database(database)
    return boots, stops


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    began = time.monotonic()
    value = action()
    return time.monotonic() - began, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="time a cold image build first")
    parser.add_argument("--online", action="store_true", help="cold build by pulling, not offline")
    args = parser.parse_args()
    if args.cold:
        print(f"cold image build ({'online' if args.online else 'offline'}): ", end="", flush=True)
        print(f"{_cold_build(offline=not args.online):.1f}s")

    files = load_task("user-crud").reference_files()
    local = LocalRuntime(ensure_runtime_venv())
    opened, backend_value = _timed(lambda: DockerBackend("bench-docker-boot"))
    assert isinstance(backend_value, DockerBackend)
    backend = backend_value
    print(f"docker backend (engine probe, images present, sweep, firewall): {opened:.2f}s")
    try:
        for kind in KINDS:
            starts: list[float] = []
            for _ in range(3):
                seconds, server = _timed(lambda kind=kind: backend.open_server(kind))
                assert isinstance(server, DatabaseServer)
                starts.append(seconds)
                server.close()
            median = statistics.median(starts)
            print(
                f"warm start of the {kind} server container: median {median:.2f}s "
                f"({', '.join(f'{s:.2f}' for s in starts)})"
            )
        print(f"candidate boot (user-crud reference), median of {RUNS}:")
        with database_servers(KINDS) as local_servers:
            for kind in KINDS:
                docker_server = backend.open_server(kind)
                try:
                    in_docker, docker_stops = _boots(backend.runtime, docker_server, files)
                finally:
                    docker_server.close()
                in_local, local_stops = _boots(local, local_servers[kind], files)
                overhead = statistics.median(in_docker) - statistics.median(in_local)
                print(
                    f"  {kind:8s} docker {statistics.median(in_docker):.2f}s  "
                    f"local {statistics.median(in_local):.2f}s  overhead {overhead:+.2f}s "
                    f"(target < 1.5s); stop: docker {statistics.median(docker_stops):.2f}s, "
                    f"local {statistics.median(local_stops):.2f}s\n"
                    f"           [docker {', '.join(f'{s:.2f}' for s in in_docker)}; "
                    f"local {', '.join(f'{s:.2f}' for s in in_local)}]"
                )
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
