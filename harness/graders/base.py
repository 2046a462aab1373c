"""What every grader declares, takes and returns: the `Grader` base class (name, version,
weight, order, whether it needs a live app, whether it scales with contract coverage, the
data files it reads), the context of one live sample, a score in [0, 1] and findings.
Graders are listed in `harness/graders/registry.py`, one module each, so
`harness/graders/<name>.py` is where a reader finds each one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sqlalchemy.engine import make_url

from harness.core.errors import HarnessError
from harness.core.records import Finding, GradeResult, Severity
from harness.core.tasks import Task
from harness.graders.contract import ContractCoverage
from harness.graders.digest import files_digest

# The row model lives in harness/core (records); re-exported for the grader modules.
__all__ = [
    "Finding",
    "GradeResult",
    "Grader",
    "GradingContext",
    "GraderDeclarationError",
    "Severity",
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


class GraderDeclarationError(HarnessError):
    """A grader class lacks a declaration the registry needs, or declares it wrongly."""


# What every grader class declares (class attributes), and the type each must have.
DECLARATIONS: dict[str, type | tuple[type, ...]] = {
    "name": str,  # the score's key in a row, e.g. "fuzz"
    "version": str,  # bumped when the grader's code changes what it scores
    "weight": (int, float),  # its weight in the composite `overall`
    "order": int,  # its place in the default run (lower first)
    "needs_live_app": bool,  # scored 0 ("not run") when the app did not boot
    "coverage_scaled": bool,  # counts score x contract coverage in `overall`
    "data_files": tuple,  # the data files it reads: folded into its cache version
}


class Grader:
    """A grader: declares what the registry and the composite need to know about it (as
    class attributes, every one of `DECLARATIONS`), and grades one live sample.

    `coverage_scaled` is for graders that cannot tell what the app implements (boot,
    checklist): an app that only boots and has tidy code must not earn their weight.
    `data_files` are the files the grade depends on beside the grader's code (plans,
    expectations, calibration): `cache_version()` folds their digest into `version`, so
    a grade cached under an older file is never reused."""

    name: ClassVar[str]
    version: ClassVar[str]
    weight: ClassVar[float]
    order: ClassVar[int]
    needs_live_app: ClassVar[bool]
    coverage_scaled: ClassVar[bool]
    data_files: ClassVar[tuple[Path, ...]]
    # Optional: a grader that sends its own traffic to the app (fuzz, security) starts
    # from a fresh app on a fresh database, after the hidden tests and the static graders,
    # so what it finds never depends on what they left behind; `coverage` is measured
    # before the first of them. A `fresh_app` grader that cannot run is a high finding.
    fresh_app: ClassVar[bool] = False
    # Optional: whether the grader decides a task's proofs (selftest, the mutant proofs):
    # the reference must pass it and each mutant must fail it. Proofs grade only these.
    decides_proofs: ClassVar[bool] = False

    def grade(self, context: GradingContext) -> GradeResult:
        raise NotImplementedError

    @classmethod
    def check_declarations(cls) -> None:
        """GraderDeclarationError naming the grader and the field, for any declaration
        missing or of the wrong type."""
        label = getattr(cls, "name", None) or f"{cls.__module__}.{cls.__qualname__}"
        for field, kind in DECLARATIONS.items():
            if not hasattr(cls, field):
                raise GraderDeclarationError(
                    f"grader {label!r} ({cls.__module__}.{cls.__qualname__}) does not "
                    f"declare {field!r}: every grader declares {', '.join(DECLARATIONS)}"
                )
            value = getattr(cls, field)
            if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
                raise GraderDeclarationError(
                    f"grader {label!r} declares {field!r} as {value!r}: expected {_kind_name(kind)}"
                )
        if not cls.name:
            raise GraderDeclarationError(f"grader {label!r} declares an empty 'name'")
        if cls.weight < 0:
            raise GraderDeclarationError(f"grader {label!r} declares a negative 'weight'")
        if not all(isinstance(path, Path) for path in cls.data_files):
            raise GraderDeclarationError(f"grader {label!r}: 'data_files' must hold Paths")

    @classmethod
    def cache_version(cls) -> str:
        """The version a grade is cached under: `version`, plus the digest of the data
        files when the grader reads any."""
        if not cls.data_files:
            return cls.version
        return f"{cls.version}+{files_digest(cls.data_files)}"


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
