"""Progress of a run: a live display on a terminal, plain log lines elsewhere (CI)."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.core.records import SampleResult


def describe_result(result: SampleResult) -> str:
    if result.infra_error:
        return f"INFRA ERROR: {result.infra_error.splitlines()[0]}"
    parts = " ".join(f"{k} {v:.2f}" for k, v in result.scores.items() if k != "overall")
    return f"overall {result.scores.get('overall', 0):.2f} ({parts})"


class RunProgress:
    """Counts rows done, failures and infra errors; shows stage activity and an ETA."""

    def __init__(self, total: int, already_done: int = 0, live: bool | None = None) -> None:
        self.total = total
        self.done = already_done
        self.initial = already_done
        self.failures = 0
        self.infra_errors = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        console = Console(file=sys.stderr)
        self.live = console.is_terminal if live is None else live
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if self.live:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self._task = self._bar.add_task(
                self._description(), total=total, completed=already_done
            )

    def _description(self) -> str:
        stages = " ".join(f"{stage} {n}" for stage, n in sorted(self._active.items()) if n)
        return (
            f"[bold]eval[/] {stages or 'idle'} | failures {self.failures} infra {self.infra_errors}"
        )

    def stage(self, name: str, delta: int) -> None:
        with self._lock:
            self._active[name] = self._active.get(name, 0) + delta
            self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, description=self._description())

    def log(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"harness: {message}", markup=False, highlight=False)
        else:
            print(f"harness: {message}", file=sys.stderr, flush=True)

    def row_done(self, result: SampleResult) -> None:
        with self._lock:
            self.done += 1
            if result.infra_error:
                self.infra_errors += 1
            elif result.scores.get("overall", 0.0) < 1.0:
                self.failures += 1
            done, total = self.done, self.total
            elapsed = time.monotonic() - self.started
            self._refresh()
        eta = ""
        finished_here = done - self.initial
        if not self.live and 0 < finished_here and done < total:
            eta = f", eta {elapsed / finished_here * (total - done):.0f}s"
        self.log(
            f"[{done}/{total}] {result.task} #{result.sample} {result.database}: "
            f"{describe_result(result)} in {result.timings.get('total', 0):.1f}s{eta}"
        )

    def __enter__(self) -> RunProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
