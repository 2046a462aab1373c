"""functional and robustness: the task's hidden tests, run by pytest from outside the app.

`functional` runs the tests that hold the app to its contract with ordinary values;
`robustness` runs those marked `robustness` (extreme input: NUL bytes, integers beyond
int32/int64, huge offsets, oversized strings, lone surrogates). Each scores the share of
its tests passed. A suite cut at its time cap keeps the tests that finished (the plugin
writes its report after every test); the ones that never ran count as failed.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from harness.core import settings
from harness.core.settings import HIDDEN_TESTS_TIMEOUT_S
from harness.graders.base import Finding, Grader, GradeResult, GradingContext
from harness.graders.pytest_plugin import ROBUSTNESS_MARKER
from harness.graders.python_ast import parse_python

PLUGIN_PATH = Path(__file__).resolve().parent / "pytest_plugin.py"
TESTKIT_PATH = Path(__file__).resolve().parent / "testkit.py"
TRANSPORT_PATH = Path(__file__).resolve().parent / "http_transport.py"


class HiddenTestsGrader(Grader):
    """Runs the hidden tests a marker expression selects (functional here, robustness in
    harness/graders/robustness.py)."""

    # 2: marker selection, per-test timeout, partial credit on a cut suite; 3: the client
    # retries a request once on a kept-alive connection the app closed. The plugin and the
    # test kit every hidden test uses are part of the grade (the tests are the task's).
    version = "3"
    needs_live_app = True
    coverage_scaled = False
    data_files = (PLUGIN_PATH, TESTKIT_PATH, TRANSPORT_PATH)
    marker_expression = ""
    report_stem = "hidden-tests"  # <stem>.json (per-test outcomes) and <stem>.log

    def grade(self, context: GradingContext) -> GradeResult:
        report_path = context.artifacts_dir / f"{self.report_stem}.json"
        output_path = context.artifacts_dir / f"{self.report_stem}.log"
        report_path.unlink(missing_ok=True)
        assert context.base_url is not None
        if context.only_hidden_tests and not self._selects_any(
            context.task.hidden_dir, context.only_hidden_tests
        ):
            # What pytest would report after deselecting every test, without its start.
            report_path.write_text("[]\n", encoding="utf-8")
            output_path.write_text("no test of this grader is named by --only-tests\n")
            return self._score([], cut=False)
        env = {
            **os.environ,
            settings.APP_URL.name: context.base_url,
            settings.DB_URL.name: context.database_url,
            settings.DB_KIND.name: context.database_kind,
            settings.DB_USER.name: context.database_user,
            settings.ADMIN_DB_URL.name: context.admin_database_url,
            settings.REPORT_PATH.name: str(report_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            # Only the harness's plugin: autoloading the installed ones (schemathesis,
            # hypothesis, anyio, timeout) costs ~2 s of CPU per grade and none is used.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        if context.jwt_secret is not None:
            env[settings.JWT_SECRET.name] = context.jwt_secret
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "harness.graders.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "--no-header",
            "-rN",
            "-m",
            self.marker_expression,
            f"--rootdir={context.task.hidden_dir}",
            str(context.task.hidden_dir),
        ]
        if context.only_hidden_tests is not None:
            command.append(f"--only-tests={','.join(context.only_hidden_tests)}")
        cut = False
        with (
            tempfile.TemporaryDirectory(prefix="harness-pytest-") as scratch,
            output_path.open("wb") as output,
        ):
            try:
                subprocess.run(
                    command,
                    cwd=scratch,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=HIDDEN_TESTS_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                cut = True
        if not report_path.exists():
            tail = output_path.read_text(errors="replace")[-2000:]
            return self._failed_run(f"pytest wrote no report; output:\n{tail}")
        return self._score(json.loads(report_path.read_text()), cut)

    def _selects_any(self, hidden_dir: Path, names: tuple[str, ...]) -> bool:
        """Whether `--only-tests` names any test this grader's marker expression selects
        (the robustness tests, or the others); none: no pytest is started."""
        robust = robustness_test_names(hidden_dir)
        wants_robust = self.marker_expression == ROBUSTNESS_MARKER
        return any((name in robust) == wants_robust for name in names)

    def _failed_run(self, evidence: str) -> GradeResult:
        finding = Finding(
            grader=self.name,
            check="hidden-tests-ran",
            severity="high",
            message="the hidden tests did not complete",
            evidence=evidence,
        )
        return GradeResult(grader=self.name, score=0.0, findings=[finding])

    def _score(self, tests: list[dict[str, Any]], cut: bool) -> GradeResult:
        for test in tests:
            if test["outcome"] == "not-run":
                test["message"] = (
                    f"not run: the suite passed its {HIDDEN_TESTS_TIMEOUT_S:.0f}s time cap"
                    if cut
                    else "not run"
                )
        counted = [t for t in tests if t["outcome"] != "skipped"]
        passed = sum(1 for t in counted if t["outcome"] == "passed")
        findings = [
            Finding(
                grader=self.name,
                check=t["name"],
                severity="high",
                message=f"hidden test {t['outcome']}: {t['nodeid']}",
                evidence=t.get("message", ""),
            )
            for t in counted
            if t["outcome"] != "passed"
        ]
        if cut:
            findings.append(
                Finding(
                    grader=self.name,
                    check="hidden-tests-time-cap",
                    severity="info",
                    message=f"the suite was cut at {HIDDEN_TESTS_TIMEOUT_S:.0f}s; tests that "
                    "never ran count as failed",
                )
            )
        score = passed / len(counted) if counted else 0.0
        return GradeResult(
            grader=self.name,
            score=score,
            findings=findings,
            details={"passed": passed, "total": len(counted), "tests": tests, "incomplete": cut},
        )


class FunctionalGrader(HiddenTestsGrader):
    name = "functional"
    weight = 4.0  # the contract's behaviour is what the task asks for
    order = 20  # first after boot: on the app as it started
    decides_proofs = True
    marker_expression = f"not {ROBUSTNESS_MARKER}"


def hidden_test_names(hidden_dir: Path) -> list[str]:
    """Test function names defined under a hidden-tests folder (for mutant checks)."""
    names: list[str] = []
    for path in sorted(hidden_dir.glob("test_*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("def test_", "async def test_")):
                names.append(stripped.split("def ", 1)[1].split("(", 1)[0])
    return names


def robustness_test_names(hidden_dir: Path) -> set[str]:
    """The hidden tests decorated `@pytest.mark.robustness`, or with a module-level alias of
    it (`robustness = pytest.mark.robustness`), read from the source as pytest's
    `-m robustness` selects them (tests/test_task_proofs.py holds the two equal)."""
    names: set[str] = set()
    for path in sorted(hidden_dir.glob("test_*.py")):
        tree = parse_python(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign) and _is_robustness_mark(node.value)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _is_robustness_mark(decorator, aliases) for decorator in node.decorator_list
            ):
                names.add(node.name)
    return names


def _is_robustness_mark(decorator: ast.expr, aliases: AbstractSet[str] = frozenset()) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Name):
        return target.id in aliases
    return (
        isinstance(target, ast.Attribute)
        and target.attr == ROBUSTNESS_MARKER
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "mark"
    )
