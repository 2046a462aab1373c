"""A first, plain leaderboard: mean scores per (model, prompt, task, database) over
every run's results.jsonl, rendered as one self-contained HTML file."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.results import SampleResult
from harness.store import RESULTS_FILE, RUN_FILE, RunStore, write_text_atomic


@dataclass
class LeaderboardRow:
    model: str
    prompt: str
    task: str
    database: str
    rows: int = 0
    infra_errors: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, result: SampleResult) -> None:
        self.rows += 1
        if result.infra_error is not None:
            self.infra_errors += 1
            return
        for name, score in result.scores.items():
            self.sums[name] = self.sums.get(name, 0.0) + score
            self.counts[name] = self.counts.get(name, 0) + 1

    def mean(self, name: str) -> float | None:
        count = self.counts.get(name, 0)
        return self.sums[name] / count if count else None


def load_all_results(results_dir: Path) -> list[SampleResult]:
    """Every row of every run folder that has run.json and results.jsonl."""
    rows: list[SampleResult] = []
    for run_file in sorted(results_dir.glob(f"*/{RUN_FILE}")):
        if (run_file.parent / RESULTS_FILE).exists():
            rows.extend(RunStore(run_file.parent).results())
    return rows


def aggregate(results: list[SampleResult]) -> list[LeaderboardRow]:
    groups: dict[tuple[str, str, str, str], LeaderboardRow] = defaultdict(
        lambda: LeaderboardRow("", "", "", "")
    )
    for result in results:
        key = (result.model, result.prompt, result.task, result.database)
        row = groups[key]
        row.model, row.prompt, row.task, row.database = key
        row.add(result)
    return sorted(
        groups.values(), key=lambda r: (-(r.mean("overall") or 0.0), r.model, r.task, r.database)
    )


def grader_columns(rows: list[LeaderboardRow]) -> list[str]:
    names = {name for row in rows for name in row.counts if name != "overall"}
    return ["overall", *sorted(names)]


def render_leaderboard(results_dir: Path, out: Path) -> Path:
    rows = aggregate(load_all_results(results_dir))
    environment = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    html = environment.get_template("leaderboard.html.j2").render(
        rows=rows,
        columns=grader_columns(rows),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    write_text_atomic(out, html)
    return out
