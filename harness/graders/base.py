"""What every grader takes and returns: the context of one live sample, a score in
[0, 1] and findings. Graders are registered by name so `harness/graders/<name>.py` is where a
reader finds each one."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from harness.core.records import Finding, GradeResult, Severity
from harness.core.tasks import Task
from harness.graders.contract import ContractCoverage

# The row model lives in harness/core (records); re-exported for the grader modules.
__all__ = [
    "Finding",
    "GradeResult",
    "Grader",
    "GradingContext",
    "Severity",
    "register_grader",
    "registered_graders",
]


@dataclass(frozen=True)
class GradingContext:
    """One sample on one database, with its app running (or not: see `booted`)."""

    task: Task
    files: dict[str, str]
    files_dir: Path
    artifacts_dir: Path
    database_kind: str
    database_url: str
    database_user: str
    admin_database_url: str
    base_url: str | None
    booted: bool
    boot_error: str | None
    jwt_secret: str | None
    # The raw answer the files were extracted from, when they were (None for a
    # workspace agent or files graded alone): the checklist grades its format.
    response_text: str | None = None
    # Run only these hidden tests (by function name); None runs them all. The task proofs
    # use it to run just the tests a mutant names.
    only_hidden_tests: tuple[str, ...] | None = None
    # Non-loopback hosts of containers the harness created for this candidate (the docker
    # runtime's app address): the probing graders may send traffic there too.
    sandbox_hosts: tuple[str, ...] = ()
    # Which contract operations the app implements (measured once, after boot); None when
    # the grader runs outside the pipeline (then every operation counts as implemented).
    coverage: ContractCoverage | None = None

    def sample_admin_url(self) -> str:
        """The server's admin account on this sample's database: what the harness reads
        the app's schema with (the app cannot lock it out by changing its password)."""
        database = make_url(self.database_url).database
        url = make_url(self.admin_database_url).set(database=database)
        return url.render_as_string(hide_password=False)

    def contract_coverage(self) -> ContractCoverage:
        if self.coverage is None:
            return ContractCoverage.full(self.task.contract_operations())
        return self.coverage


class Grader(Protocol):
    name: str
    version: str
    needs_live_app: bool

    def grade(self, context: GradingContext) -> GradeResult: ...


_REGISTRY: dict[str, Grader] = {}


def register_grader(cls: type[Any]) -> type[Any]:
    """Class decorator: instantiate and register a grader under its `name`."""
    grader: Grader = cls()
    _REGISTRY[grader.name] = grader
    return cls


# Imported on first use, not with the package: the hidden tests' pytest plugin imports
# `harness.graders.statement_counter` and must not pay for every grader's dependencies.
BUILTIN_GRADERS = ("boot", "checklist", "functional", "fuzz", "schema", "security")


@functools.cache
def _import_builtin_graders() -> None:
    for module in BUILTIN_GRADERS:
        importlib.import_module(f"harness.graders.{module}")


def registered_graders() -> dict[str, Grader]:
    """Every grader by name: the built-in ones (imported on the first call) and any other
    module's that registered itself."""
    _import_builtin_graders()
    return dict(_REGISTRY)
