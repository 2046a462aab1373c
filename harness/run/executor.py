"""Where the engine's work runs. The engine schedules through an `Executor` only; the
thread pools of a local run implement it (`ThreadExecutor`), and another implementation
(processes, a cluster) can take its place: what it is given to grade is a
`GradingJob`, plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
A = TypeVar("A")


class Executor(Protocol):
    """Runs calls somewhere and hands back their futures."""

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Start `fn(*args)`; its result (or exception) arrives in the future."""
        ...

    def map_unordered(self, fn: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        """`fn` over every item, all started at once; results as each finishes."""
        ...

    def close(self) -> None:
        """Wait for what was submitted, then release the workers."""
        ...


class ThreadExecutor:
    """An `Executor` on a pool of threads in this process."""

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def map_unordered(self, fn: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        futures = [self._pool.submit(fn, item) for item in items]
        for done in as_completed(futures):
            yield done.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
