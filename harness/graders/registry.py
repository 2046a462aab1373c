"""The one list of graders: the built-in ones (one line per module below) and third-party
ones from the entry-point group `backend_agent_eval.graders` (each entry point names a
`Grader` subclass, `package.module:ClassName`). Everything that depends on which graders
exist follows from here, computed once: the weights of the composite `overall`, the
graders it scales by contract coverage, the default order of a run (the nightly metrics
are the same names), and every grader's cache version.

Adding a grader: a module with a `Grader` subclass (harness/graders/base.py lists what
it declares) plus one line in BUILTIN_GRADERS, or one entry point in another package.

The modules are imported on first use, not with the package: the hidden tests' pytest
plugin imports `harness.graders.statement_counter` and must not pay for every grader's
dependencies.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from harness.graders.base import Grader, GraderDeclarationError

ENTRY_POINT_GROUP = "backend_agent_eval.graders"

# `module:Class`, as an entry point names it; listed in the default run's order.
BUILTIN_GRADERS = (
    "harness.graders.boot:BootGrader",
    "harness.graders.functional:FunctionalGrader",
    "harness.graders.robustness:RobustnessGrader",
    "harness.graders.schema:SchemaGrader",
    "harness.graders.checklist:ChecklistGrader",
    "harness.graders.fuzz:FuzzGrader",
    "harness.graders.security:SecurityGrader",
)


@dataclass(frozen=True)
class Registry:
    """Every grader by name, in the default run's order (declared `order`, then name)."""

    graders: dict[str, Grader]
    versions: dict[str, str]  # name -> cache version (code version + data digest)
    weights: dict[str, float]
    coverage_scaled: frozenset[str]
    fresh_app: frozenset[str]
    default_order: tuple[str, ...]
    proof_order: tuple[str, ...]  # the graders that decide a task's proofs, in order


def load_grader_class(spec: str) -> type[Grader]:
    """The class a `module:Class` line names, checked (GraderDeclarationError)."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise GraderDeclarationError(f"grader {spec!r} cannot be loaded: {exc}") from exc
    return checked(found, spec)


def checked(found: object, where: str) -> type[Grader]:
    if not (isinstance(found, type) and issubclass(found, Grader)):
        raise GraderDeclarationError(
            f"grader {where!r} is not a Grader subclass (harness.graders.base.Grader)"
        )
    found.check_declarations()
    return found


def build_registry(classes: list[type[Grader]]) -> Registry:
    """The registry of these grader classes (GraderDeclarationError on a name twice)."""
    by_name: dict[str, type[Grader]] = {}
    for cls in classes:
        if cls.name in by_name and by_name[cls.name] is not cls:
            other = by_name[cls.name]
            raise GraderDeclarationError(
                f"two graders are named {cls.name!r}: {other.__module__}.{other.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        by_name[cls.name] = cls
    ordered = sorted(by_name.values(), key=lambda cls: (cls.order, cls.name))
    return Registry(
        graders={cls.name: cls() for cls in ordered},
        versions={cls.name: cls.cache_version() for cls in ordered},
        weights={cls.name: float(cls.weight) for cls in ordered},
        coverage_scaled=frozenset(cls.name for cls in ordered if cls.coverage_scaled),
        fresh_app=frozenset(cls.name for cls in ordered if cls.fresh_app),
        default_order=tuple(cls.name for cls in ordered),
        proof_order=tuple(cls.name for cls in ordered if cls.decides_proofs),
    )


@functools.cache
def registry() -> Registry:
    """The built-in graders and the installed third-party ones (loaded once)."""
    classes = [load_grader_class(spec) for spec in BUILTIN_GRADERS]
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found = entry.load()
        except (ImportError, AttributeError) as exc:
            raise GraderDeclarationError(
                f"grader entry point {entry.name!r} ({entry.value}) cannot be loaded: {exc}"
            ) from exc
        classes.append(checked(found, f"{entry.name} = {entry.value}"))
    return build_registry(classes)


def registered_graders() -> dict[str, Grader]:
    """Every grader by name, in the default run's order."""
    return dict(registry().graders)


def grader_weights() -> dict[str, float]:
    """Each grader's weight in the composite `overall` (harness/grading/scoring.py)."""
    return dict(registry().weights)


def coverage_scaled_graders() -> frozenset[str]:
    """The graders `overall` counts as score x contract coverage."""
    return registry().coverage_scaled


def fresh_app_graders() -> frozenset[str]:
    """The graders that start from a fresh app and database (declared `fresh_app`)."""
    return registry().fresh_app


def default_grader_order() -> tuple[str, ...]:
    """The graders a run grades with, in order."""
    return registry().default_order


def proof_grader_order() -> tuple[str, ...]:
    """The graders a task's proofs grade with (declared `decides_proofs`), in order."""
    return registry().proof_order


def grader_version(name: str) -> str:
    """The version a grader's grades are cached under."""
    return registry().versions[name]
