"""A Ray cluster on this machine for the Ray executor's test and bench: a head (no
grading resources, so it grades nothing) and worker nodes started with `ray start`, each
with its own temp dir, TMPDIR (where its database servers and scratch folder go) and
custom resources. Stopping it ends exactly the processes it started: those whose command
line names the cluster's folder, and their descendants (never `ray stop`, which stops
every Ray on the machine)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.core.settings import PROJECT_ROOT
from harness.run.ray_executor import node_resources

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can read."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (parent, cmdline)
    return found


class LocalRayCluster:
    def __init__(self, cpus_per_node: int = 1, memory_mb: int = 1500) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="harness-raytest-"))
        self.root.chmod(0o755)  # the database servers' own accounts reach their folders
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.cpus = cpus_per_node
        self.memory = memory_mb * 1024 * 1024
        self.workers: list[str] = []

    def env(self, name: str) -> dict[str, str]:
        tmp = self.root / name / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        tmp.parent.chmod(0o755)
        tmp.chmod(0o1777)  # as /tmp: servers and sandboxed apps make their folders here
        return {
            **{k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "TMPDIR")},
            "PYTHONPATH": str(PROJECT_ROOT),
            "TMPDIR": str(tmp),
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def _ray_start(self, name: str, args: list[str]) -> None:
        common = [
            f"--temp-dir={self.root / name / 'ray'}",
            "--object-store-memory=100000000",
            f"--memory={self.memory}",
            "--disable-usage-stats",
        ]
        subprocess.run(
            [RAY, "start", *args, *common],
            env=self.env(name),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )

    def start_head(self) -> None:
        self._ray_start(
            "head",
            [
                "--head",
                f"--port={self.port}",
                "--num-cpus=0",
                "--include-dashboard=false",
                "--resources={}",
            ],
        )

    def add_worker(self, runtime: str = "local") -> str:
        name = f"worker{len(self.workers) + 1}"
        self._ray_start(
            name,
            [
                f"--address={self.address}",
                f"--num-cpus={self.cpus}",
                f"--resources={json.dumps(node_resources(runtime))}",
            ],
        )
        self.workers.append(name)
        return name

    def wait_for_nodes(self, count: int, timeout_s: float = 60.0) -> None:
        """Until `count` nodes (head included) are alive, bounded."""
        probe = (
            f"import ray; ray.init(address={self.address!r}, log_to_driver=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        deadline = time.monotonic() + timeout_s
        alive = 0
        while time.monotonic() < deadline:
            out = subprocess.run(
                [sys.executable, "-c", probe],
                env=self.env("driver"),
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            alive = int(out.stdout.strip() or 0) if out.returncode == 0 else 0
            if alive >= count:
                return
            time.sleep(1)
        raise TimeoutError(f"{alive} of {count} Ray nodes alive after {timeout_s} s")

    def raylet_pid(self, name: str) -> int:
        marker = str(self.root / name / "ray")
        for pid, (_, cmdline) in _processes().items():
            if "/raylet " in cmdline and marker in cmdline:
                return pid
        raise LookupError(f"no raylet for {name}")

    def kill_node(self, name: str) -> None:
        """The node's raylet SIGKILLed: the node and the actor on it are lost."""
        os.kill(self.raylet_pid(name), signal.SIGKILL)

    def node_busy(self, name: str) -> bool:
        """Whether the node's grader holds a job (a database folder in its scratch)."""
        tmp = self.root / name / "tmp"
        return any(tmp.glob("harness-ray-*/*/*/*/*/"))

    def ours(self) -> list[int]:
        """Every process of the cluster: naming its folder, or descended from one."""
        table = _processes()
        marker = str(self.root)
        mine = {pid for pid, (_, cmdline) in table.items() if marker in cmdline}
        grew = True
        while grew:
            extra = {pid for pid, (parent, _) in table.items() if parent in mine} - mine
            mine |= extra
            grew = bool(extra)
        mine.discard(os.getpid())
        return sorted(mine)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left (bounded), then remove the folder."""
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            pids = self.ours()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait_s
            while self.ours() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)
