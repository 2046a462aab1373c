"""The grader registry: a grader is one module plus one registry line (or one entry point
in the `backend_agent_eval.graders` group), and from the registry follow the composite's
weights, the default order of a run, the nightly metrics and a graded row's `overall`. A
grader that leaves out a declaration is an error naming the grader and the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.tasks import Task
from harness.graders import registry
from harness.graders.base import DECLARATIONS, Grader, GraderDeclarationError
from harness.graders.digest import files_digest
from harness.grading.scoring import overall_score
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.runtime import Runtime
from tests.support.grading import grade_files

MODULE = "throwaway_grader"
SPEC = f"{MODULE}:ThrowawayGrader"
GRADER_SOURCE = textwrap.dedent(
    '''
    """A grader that exists only for the registry's tests."""

    from pathlib import Path

    from harness.graders.base import Grader, GradeResult, GradingContext


    class ThrowawayGrader(Grader):
        name = "throwaway"
        version = "1"
        needs_live_app = False
        weight = 3.0
        order = 55  # between checklist (50) and fuzz (60)
        coverage_scaled = False
        data_files = (Path(__file__).with_name("throwaway.txt"),)

        def grade(self, context: GradingContext) -> GradeResult:
            return GradeResult(grader=self.name, score=1.0)
    '''
)


def _write_plugin(site: Path, *, entry_point: bool) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{MODULE}.py").write_text(GRADER_SOURCE)
    (site / "throwaway.txt").write_text("data the grader reads\n")
    if entry_point:
        dist_info = site / f"{MODULE}-0.1.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 0.1\n"
        )
        (dist_info / "entry_points.txt").write_text(
            f"[{registry.ENTRY_POINT_GROUP}]\nthrowaway = {SPEC}\n"
        )


@pytest.fixture(params=["entry point", "registry line"])
def throwaway(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The throwaway grader installed one way or the other; the registry reloaded."""
    site = tmp_path / "site"
    _write_plugin(site, entry_point=request.param == "entry point")
    monkeypatch.syspath_prepend(str(site))
    if request.param == "registry line":
        monkeypatch.setattr(registry, "BUILTIN_GRADERS", (*registry.BUILTIN_GRADERS, SPEC))
    registry.registry.cache_clear()
    yield site
    registry.registry.cache_clear()
    sys.modules.pop(MODULE, None)


def test_a_new_grader_is_in_the_weights_the_order_and_the_versions(throwaway: Path) -> None:
    assert registry.grader_weights()["throwaway"] == 3.0
    assert registry.default_grader_order() == (
        "boot",
        "functional",
        "robustness",
        "schema",
        "checklist",
        "throwaway",
        "fuzz",
        "security",
    )
    assert "throwaway" not in registry.coverage_scaled_graders()
    # Not declared `fresh_app`: it grades the app the hidden tests left, like the others.
    assert registry.fresh_app_graders() == {"fuzz", "security"}
    # Not declared `decides_proofs`: the task proofs still grade with the hidden tests only.
    assert registry.proof_grader_order() == ("boot", "functional", "robustness")
    digest = files_digest([throwaway / "throwaway.txt"])
    assert registry.grader_version("throwaway") == f"1+{digest}"


def test_the_constants_computed_once_follow_the_registry(tmp_path: Path) -> None:
    """A fresh process with the grader installed (an entry point): the default run's
    graders and the nightly metrics include it."""
    site = tmp_path / "site"
    _write_plugin(site, entry_point=True)
    script = (
        "import json\n"
        "from harness.grading.pipeline import DEFAULT_GRADERS\n"
        "from harness.nightly.config import METRICS\n"
        "print(json.dumps({'order': DEFAULT_GRADERS, 'metrics': METRICS}))\n"
    )
    path = os.pathsep.join([str(site), *sys.path])
    shown = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(shown.stdout)
    assert "throwaway" in found["order"]
    assert found["metrics"][:2] == ["pass", "overall"]
    assert "throwaway" in found["metrics"]


def test_a_graded_row_counts_the_new_grader_in_overall(
    throwaway: Path,
    servers: dict[str, DatabaseServer],
    local_runtime: Runtime,
    user_crud: Task,
    tmp_path: Path,
) -> None:
    """No files: nothing boots, every built-in grader scores 0 (boot and checklist are
    scaled by a coverage of 0), the throwaway grader 1.0 with weight 3 of 14."""
    result = grade_files(
        user_crud,
        {},
        servers["postgres"],
        local_runtime,
        tmp_path / "graded",
        registry.default_grader_order(),
    )
    assert result.infra_error is None
    assert result.scores["throwaway"] == 1.0
    assert result.coverage == 0.0
    assert result.scores["overall"] == round(3.0 / 14.0, 4)
    graded = {name: score for name, score in result.scores.items() if name != "overall"}
    assert result.scores["overall"] == overall_score(graded, result.coverage)


def _grader_class(without: str) -> type[Grader]:
    declared: dict[str, object] = {
        "name": "incomplete",
        "version": "1",
        "weight": 1.0,
        "order": 99,
        "needs_live_app": False,
        "coverage_scaled": False,
        "data_files": (),
    }
    del declared[without]
    return type("IncompleteGrader", (Grader,), declared)


@pytest.mark.parametrize("field", list(DECLARATIONS))
def test_a_missing_declaration_names_the_grader_and_the_field(field: str) -> None:
    cls = _grader_class(without=field)
    with pytest.raises(GraderDeclarationError) as raised:
        registry.checked(cls, "tests:IncompleteGrader")
    message = str(raised.value)
    assert repr(field) in message
    assert "IncompleteGrader" in message
    if field != "name":
        assert "'incomplete'" in message


def test_a_wrongly_typed_declaration_is_an_error() -> None:
    cls = _grader_class(without="weight")
    cls.weight = True  # type: ignore[misc]
    with pytest.raises(GraderDeclarationError, match="'incomplete' declares 'weight'"):
        registry.checked(cls, "tests:IncompleteGrader")


def test_an_entry_point_missing_a_declaration_stops_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _write_plugin(site, entry_point=True)
    module = site / f"{MODULE}.py"
    module.write_text(module.read_text().replace("    weight = 3.0\n", ""))
    monkeypatch.syspath_prepend(str(site))
    registry.registry.cache_clear()
    try:
        with pytest.raises(GraderDeclarationError, match="'throwaway'.*'weight'"):
            registry.registry()
    finally:
        registry.registry.cache_clear()
        sys.modules.pop(MODULE, None)
