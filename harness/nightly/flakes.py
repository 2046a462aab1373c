"""Flake awareness: before a drop is called a regression, re-grade the baseline's own
stored answers of the suspect tasks (`regrade_run`: no model call, no grade cache) and
compare the baseline with itself. A hidden test or score that moves when nothing but
the grading was repeated is flaky; the candidate is not blamed for it.

The re-grade runs on a copy of the baseline's snapshot (its responses, and a run.json
narrowed to the suspect tasks and samples), so the blessed rows are never touched.
"""

from __future__ import annotations

import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.files import RUN_FILE, sample_folder
from harness.core.store import RunStore, write_json_atomic
from harness.nightly.baseline import SAMPLE_FILES, SAMPLE_FOLDERS, BaselineRecord, BaselineStore
from harness.nightly.config import PASS_METRIC
from harness.report.compare import Comparison, Flip, Side, compare
from harness.report.frame import load_runs
from harness.run.regrade import regrade_run


@dataclass(frozen=True)
class TaskFlakes:
    """How a task's grades moved when the baseline was graded again."""

    task: str
    pairs: int
    pass_flips: int
    drift: dict[str, float]  # metric -> mean absolute change per pair ("pass": flip rate)
    tests: tuple[Flip, ...]  # hidden tests that flipped, either way

    @property
    def flaky_tests(self) -> set[str]:
        return {flip.name for flip in self.tests}

    @property
    def moved(self) -> bool:
        return any(value > 0 for value in self.drift.values())


@dataclass
class FlakeReport:
    ran: bool = False
    samples: int = 0
    folder: Path | None = None
    error: str | None = None
    tasks: dict[str, TaskFlakes] = field(default_factory=dict)
    graders_changed: list[str] = field(default_factory=list)

    def drift(self, task: str, metric: str) -> float:
        found = self.tasks.get(task)
        return found.drift.get(metric, 0.0) if found else 0.0

    def flaky_tests(self, task: str) -> set[str]:
        found = self.tasks.get(task)
        return found.flaky_tests if found else set()


def task_flakes(task: str, comparison: Comparison) -> TaskFlakes:
    """A baseline-vs-re-grade comparison, read as instability."""
    drift: dict[str, float] = {}
    if comparison.pass_pairs:
        drift[PASS_METRIC] = (comparison.regressed + comparison.improved) / comparison.pass_pairs
    for shift in comparison.score_shifts:
        if shift.pairs:
            drift[shift.metric] = shift.mean_absolute_difference
    tests = sorted(
        [*comparison.tests_broken, *comparison.tests_fixed], key=lambda f: (-f.count, f.name)
    )
    return TaskFlakes(
        task=task,
        pairs=comparison.pairs,
        pass_flips=comparison.regressed + comparison.improved,
        drift=drift,
        tests=tuple(tests),
    )


def check_flakes(
    store: BaselineStore,
    record: BaselineRecord,
    baseline: Side,
    tasks: list[str],
    max_samples: int,
    workdir: Path,
    *,
    current_graders: dict[str, str] | None = None,
    seed: int = 0,
) -> FlakeReport:
    """Re-grade the baseline's first `max_samples` samples (0: all) of `tasks` and
    report what moved. A failure of the re-grade itself is reported, not raised: the
    drop then stands as measured."""
    samples = min(max_samples, record.samples) if max_samples else record.samples
    report = FlakeReport(samples=samples, folder=workdir / record.run_id)
    if current_graders is not None:
        report.graders_changed = sorted(
            name
            for name in set(current_graders) | set(record.graders)
            if current_graders.get(name) != record.graders.get(name)
        )
    try:
        _prepare(store.snapshot_path(record), workdir / record.run_id, tasks, samples)
        regraded_dir = regrade_run(workdir, record.run_id)
    except Exception as exc:  # the flake check is advisory: never lose the nightly to it
        report.error = f"{exc.__class__.__name__}: {exc}"
        traceback.print_exc()
        return report
    report.ran = True
    regraded = load_runs([regraded_dir], root=workdir)
    mine = baseline.results.frame
    for task in tasks:
        before = baseline.results.select((mine["task"] == task) & (mine["sample"] < samples))
        after = regraded.select(regraded.frame["task"] == task)
        comparison = compare(
            Side(baseline.label, before, baseline.description),
            Side("baseline re-graded", after, f"re-grade of {record.run_id}"),
            seed=seed,
        )
        report.tasks[task] = task_flakes(task, comparison)
    return report


def _prepare(snapshot: Path, scratch: Path, tasks: list[str], samples: int) -> None:
    """A run folder holding only the stored responses to re-grade."""
    if scratch.exists():
        shutil.rmtree(scratch)
    info = RunStore(snapshot).read_run_record()
    if info.config is None:
        raise HarnessError(f"{snapshot / RUN_FILE} has no config")
    config = info.config.model_copy(update={"tasks": list(tasks), "samples": samples})
    regrade = info.model_copy(update={"config": config, "status": "regrade"})
    write_json_atomic(scratch / RUN_FILE, regrade.to_json())
    for task in tasks:
        for sample in range(samples):
            source = sample_folder(snapshot, task, sample)
            target = sample_folder(scratch, task, sample)
            target.mkdir(parents=True, exist_ok=True)
            for name in SAMPLE_FILES:
                if (source / name).is_file():
                    shutil.copy2(source / name, target / name)
            for name in SAMPLE_FOLDERS:
                if (source / name).is_dir():
                    shutil.copytree(source / name, target / name)
