"""Grading on a Ray cluster: `harness eval --executor ray [--ray-address ADDR]`.

One long-lived actor per node (`NodeGrader`) prepares its node once, as a local run
prepares this machine (`open_backend`: the runtime, and database servers started when a
job first needs one), and grades each `GradingJob` it is sent with the same worker code
(`GradingWorker.grade`) into a node-local folder. It returns the row and the artifact
files (bytes); the head (the `harness eval` process) writes the files into the run
folder and records the row through the run's store: no node writes the results.

The head checks the grade cache before a job is sent (`GradingWorker.remote`), so an
unchanged re-run on the cluster grades nothing and `--resume` works as on one machine.

Placement: a node offers custom Ray resources, `harness_<runtime>` (`harness_local`,
`harness_docker`) and `harness_<database>` (`harness_postgres`, `harness_mysql`). An
actor is started on each node that offers the run's runtime; a job goes only to an actor
whose node offers its database. A node lost mid-job (its actor died with it) costs an
infra retry on another node, counted in run.json's `counters.infra_retries`: never the
model's failure.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness.core.errors import HarnessError
from harness.core.files import FILES_DIR
from harness.core.records import SampleResult
from harness.core.settings import DATABASE_KINDS, RAY_ADDRESS, RAY_SLOTS
from harness.core.store import RunStore
from harness.core.tasks import Task, load_tasks
from harness.grading.integrity import SourceIntegrity
from harness.grading.pipeline import infra_row
from harness.run.executor import ThreadExecutor
from harness.run.jobs import GradingJob
from harness.run.worker import GradingWorker
from harness.sandbox.backend import AUTO, RUNTIMES, open_backend
from harness.sandbox.databases import DatabaseServer, SampleDatabase
from harness.sandbox.runtime import CandidateApp
from harness.sandbox.servers import ServerPool

T = TypeVar("T")
A = TypeVar("A")

RESOURCE_PREFIX = "harness_"
# Nodes a job may be sent to before it is given up as an infra row (resume grades it).
NODE_ATTEMPTS = 3
# Seconds a node has to prepare (build the runtime venv when missing, read versions).
PREPARE_TIMEOUT_S = 900.0
# Seconds a node has to close its servers when the run ends.
CLOSE_TIMEOUT_S = 60.0


def resource(name: str) -> str:
    """The custom Ray resource a node offers for a runtime or a database engine."""
    return f"{RESOURCE_PREFIX}{name}"


def node_resources(runtime: str, kinds: Sequence[str] = DATABASE_KINDS) -> dict[str, float]:
    """What `ray start --resources` declares for a node running `runtime` and `kinds`."""
    return {resource(name): 1.0 for name in (runtime, *kinds)}


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # the optional extra
        raise HarnessError(
            "--executor ray needs Ray: pip install -e '.[ray]' (or pip install ray)"
        ) from exc
    return ray


# -- on each node ------------------------------------------------------------------------


class NodeGrader:
    """A node's grader (a Ray actor): its backend, servers and scratch folder, kept for
    the run; grades jobs `slots` at once."""

    def __init__(self, runtime: str, kinds: list[str], run_id: str, task_ids: list[str]) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="harness-ray-"))
        self.backend = open_backend(runtime, run_id)
        self.pool = ServerPool(kinds, self.backend)
        self.store = RunStore(self.scratch / run_id)
        integrity = SourceIntegrity()
        self.worker = GradingWorker(
            tasks={task.id: task for task in load_tasks(",".join(task_ids))},
            store=self.store,
            pool=self.pool,
            runtime=self.backend.runtime,
            grade_cache=None,  # the head's cache: checked before the job was sent
            verify_integrity=integrity.verify,
            count=lambda name: None,
        )

    def report(self) -> dict[str, Any]:
        """What the head keys grades on: this node's runtime and engine versions."""
        return {
            "host": os.uname().nodename,
            "runtime": self.backend.runtime.describe(),
            "describe": self.backend.describe(),
            "versions": self.pool.versions(),
        }

    def grade(self, job_json: str) -> tuple[str, dict[str, bytes]]:
        """The job's row (JSON) and its artifact files, relative to the database folder."""
        job = GradingJob.model_validate_json(job_json)
        self.store.write_files(
            self.store.sample_dir(job.task_id, job.sample, job.round) / FILES_DIR, job.files
        )
        result = self.worker.grade(job)
        folder = self.store.database_dir(job.task_id, job.sample, job.database, job.round)
        artifacts = {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.is_symlink()
        }
        shutil.rmtree(folder, ignore_errors=True)
        return result.model_dump_json(), artifacts

    def close(self) -> None:
        try:
            self.pool.close()
            self.backend.close()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


# -- on the head -------------------------------------------------------------------------


@dataclass
class _Node:
    node_id: str
    actor: Any
    kinds: list[str]
    slots: int
    report: dict[str, Any] = field(default_factory=dict)
    busy: int = 0
    alive: bool = True


class ClusterServers:
    """The head's view of the nodes' servers: their versions (for the grade cache's key);
    the servers themselves run on the nodes."""

    def __init__(self, versions: Mapping[str, str]) -> None:
        self._versions = dict(versions)

    def open_server(self, kind: str) -> DatabaseServer:
        raise HarnessError("with --executor ray, database servers run on the Ray nodes")

    def server_version(self, kind: str) -> str:
        return self._versions[kind]

    def can_restart(self, kind: str) -> bool:
        return False


class ClusterRuntime:
    """The head's view of the nodes' runtime: its description (part of the grade key)."""

    def __init__(self, name: str, description: Mapping[str, str]) -> None:
        self.name = name
        self._description = dict(description)

    def make_app(
        self,
        files: dict[str, str],
        database: SampleDatabase,
        log_path: Path,
        jwt_secret: str | None,
    ) -> CandidateApp:
        raise HarnessError("with --executor ray, candidates boot on the Ray nodes")

    def describe(self) -> dict[str, str]:
        return dict(self._description)


class RayExecutor:
    """An `Executor` whose grading runs on a Ray cluster: one `NodeGrader` actor per
    node that can run the run's runtime. `submit` runs the head's part (cache check,
    dispatch, writing what comes back) on a thread per cluster slot; `grade` is what
    the run's `GradingWorker` calls for a job that is not cached."""

    def __init__(
        self,
        runtime: str,
        kinds: Sequence[str],
        run_id: str,
        tasks: Mapping[str, Task],
        store: RunStore,
        count: Callable[[str], None],
        address: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise HarnessError(f"unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})")
        self._ray = _ray()
        self.kinds = list(kinds)
        self.run_id = run_id
        self.tasks = dict(tasks)
        self.store = store
        self.count = count
        self._log = log or (lambda line: print(f"harness: {line}", file=sys.stderr, flush=True))
        self._lock = threading.Condition()
        self._nodes: dict[str, _Node] = {}
        self._closed = False
        self._owns_ray = False
        self._connect(address or RAY_ADDRESS.get() or None, runtime)
        self.runtime_name = self._resolve_runtime(runtime)
        self._discover()
        if not self._nodes:
            self.close()
            raise HarnessError(
                f"no Ray node offers {resource(self.runtime_name)} and one of "
                f"{', '.join(resource(k) for k in self.kinds)}: start nodes with "
                f"`ray start --resources '{{\"{resource(self.runtime_name)}\": 1, ...}}'`"
            )
        reference = next(iter(self._nodes.values())).report
        self.runtime = ClusterRuntime(self.runtime_name, reference["runtime"])
        self.servers = ClusterServers(self._versions())
        self._threads = ThreadExecutor(max(1, self.slots()), "ray-grade")

    # -- the cluster --------------------------------------------------------------------

    def _connect(self, address: str | None, runtime: str) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address is None and not os.environ.get("RAY_ADDRESS"):
            # No cluster named: Ray starts one on this machine, which offers this machine.
            local = "local" if runtime == AUTO else runtime
            options["resources"] = node_resources(local)
            options["include_dashboard"] = False
        else:
            options["address"] = address
        ray.init(**options)
        self._owns_ray = True

    def _alive_nodes(self) -> list[dict[str, Any]]:
        return [node for node in self._ray.nodes() if node.get("Alive")]

    def _resolve_runtime(self, requested: str) -> str:
        """`auto` on a cluster: docker when a node offers it, else local."""
        if requested != AUTO:
            return requested
        offered = any(
            node["Resources"].get(resource("docker"), 0) > 0 for node in self._alive_nodes()
        )
        return "docker" if offered else "local"

    def _discover(self) -> None:
        """An actor on every live node that offers the runtime and one of the databases
        and has none yet; nodes that fail to prepare are left out (said why)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self._ray
        actor_class = ray.remote(NodeGrader)
        started: list[_Node] = []
        with self._lock:
            known = set(self._nodes)
        for node in self._alive_nodes():
            offered = node["Resources"]
            if node["NodeID"] in known or offered.get(resource(self.runtime_name), 0) <= 0:
                continue
            kinds = [kind for kind in self.kinds if offered.get(resource(kind), 0) > 0]
            if not kinds:
                continue
            slots = RAY_SLOTS.get() or max(1, int(offered.get("CPU", 1)))
            actor = actor_class.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                max_concurrency=slots,
                num_cpus=0,
                max_restarts=0,
                max_task_retries=0,
            ).remote(self.runtime_name, kinds, self.run_id, sorted(self.tasks))
            started.append(_Node(node["NodeID"], actor, kinds, slots))
        for candidate in started:
            try:
                candidate.report = ray.get(
                    candidate.actor.report.remote(), timeout=PREPARE_TIMEOUT_S
                )
            except Exception as exc:  # a node that cannot prepare grades nothing
                self._log(f"ray node {candidate.node_id[:12]} left out: {exc}")
                ray.kill(candidate.actor)
                continue
            with self._lock:
                self._nodes[candidate.node_id] = candidate
            self._log(
                f"ray node {candidate.report['host']} ({candidate.node_id[:12]}): "
                f"{', '.join(candidate.kinds)}, {candidate.slots} slot(s)"
            )

    def _versions(self) -> dict[str, str]:
        versions: dict[str, str] = {}
        for node in self._nodes.values():
            for kind, version in node.report["versions"].items():
                if versions.setdefault(kind, version) != version:
                    self._log(
                        f"ray nodes run different {kind} versions ({versions[kind]}, {version}): "
                        "the grade cache keys on the first"
                    )
        return versions

    def slots(self) -> int:
        with self._lock:
            return sum(node.slots for node in self._nodes.values() if node.alive)

    def describe(self) -> dict[str, str]:
        """The backend as run.json records it, plus where the grades ran."""
        with self._lock:
            nodes = [node for node in self._nodes.values() if node.alive]
        first = nodes[0].report["describe"] if nodes else {}
        return {
            **first,
            "executor": "ray",
            "ray_nodes": ",".join(sorted(node.report["host"] for node in nodes)),
        }

    # -- grading ------------------------------------------------------------------------

    def _acquire(self, kind: str, tried: set[str]) -> _Node | None:
        """The least busy live node for `kind` (not one of `tried` while another exists)."""
        with self._lock:
            able = [n for n in self._nodes.values() if n.alive and kind in n.kinds]
            fresh = [n for n in able if n.node_id not in tried] or able
            if not fresh:
                return None
            node = min(fresh, key=lambda n: n.busy / n.slots)
            node.busy += 1
            return node

    def _release(self, node: _Node) -> None:
        with self._lock:
            node.busy -= 1

    def _lost(self, node: _Node, exc: BaseException) -> None:
        with self._lock:
            if not node.alive:
                return
            node.alive = False
        self._log(f"ray node {node.report.get('host')} ({node.node_id[:12]}) lost: {exc}")
        try:
            self._ray.kill(node.actor)
        except Exception:  # already gone
            pass

    def grade(self, job: GradingJob) -> SampleResult:
        """Grade `job` on a node that offers its database; a node lost mid-job is an infra
        retry on another. Its artifacts are written into the run folder here."""
        ray = self._ray
        lost_errors = (
            ray.exceptions.RayActorError,
            ray.exceptions.ActorUnavailableError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.NodeDiedError,
        )
        tried: set[str] = set()
        reason = "no live Ray node offers it"
        for attempt in range(NODE_ATTEMPTS):
            node = self._acquire(job.database, tried)
            if node is None and attempt:
                self._discover()  # a node that joined since (a replacement) may take it
                node = self._acquire(job.database, tried)
            if node is None:
                break
            tried.add(node.node_id)
            try:
                row, artifacts = ray.get(node.actor.grade.remote(job.model_dump_json()))
            except lost_errors as exc:
                self._lost(node, exc)
                self.count("infra_retries")
                reason = f"its Ray node was lost: {exc.__class__.__name__}"
                continue
            finally:
                self._release(node)
            self._write_artifacts(job, artifacts)
            return SampleResult.model_validate_json(row)
        task = self.tasks[job.task_id]
        return infra_row(task, job.sample, job.database, f"not graded: {reason}")

    def _write_artifacts(self, job: GradingJob, artifacts: Mapping[str, bytes]) -> None:
        folder = self.store.database_dir(job.task_id, job.sample, job.database, job.round).resolve()
        for relative, data in artifacts.items():
            path = (folder / relative).resolve()
            if not path.is_relative_to(folder):
                raise HarnessError(f"a Ray node sent an artifact outside its folder: {relative}")
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            scratch.write_bytes(data)
            scratch.replace(path)

    # -- the Executor protocol (the head's part of each job runs on a thread) ------------

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self._threads.submit(fn, *args)

    def map_unordered(self, fn: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        return self._threads.map_unordered(fn, items)

    def close(self) -> None:
        """Wait for what was submitted, then close every node's servers and actor."""
        if self._closed:
            return
        self._closed = True
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.close()
        ray = self._ray
        with self._lock:
            nodes = [node for node in self._nodes.values() if node.alive]
        closing = [(node, node.actor.close.remote()) for node in nodes]
        for node, done in closing:
            try:
                ray.get(done, timeout=CLOSE_TIMEOUT_S)
            except Exception as exc:  # a node lost at the end: nothing of the run is on it
                self._log(f"ray node {node.node_id[:12]} did not close cleanly: {exc}")
            ray.kill(node.actor)
        if self._owns_ray:
            ray.shutdown()
