"""What a nightly run writes beside its runs, in `<output_dir>/<nightly_id>/` and again in
`<output_dir>/latest/`:

- `summary.md`: fit to paste in a pull request or a chat (GitHub-flavoured Markdown);
- `summary.html`: the same as a self-contained page (the leaderboard's safe rendering:
  autoescape, no network, a CSP), linking each evaluation's comparison page;
- `junit.xml`: one test case per task x metric, failed on a regression, skipped when
  flaky or without data; an infrastructure failure is an errored case;
- `nightly.json`: everything, machine-readable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

from jinja2 import ChoiceLoader, PackageLoader
from markupsafe import Markup

from harness.core.store import write_text_atomic
from harness.nightly.config import METRICS, NightlyConfig
from harness.nightly.outcome import EvalOutcome, NightlyOutcome
from harness.nightly.regression import STATUS_ORDER, MetricCheck
from harness.report.html import content_security_policy, environment

LATEST = "latest"
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
STATUS_WORDS = {"ok": "OK", "regression": "REGRESSION", "infrastructure failure": "INFRA FAILURE"}


def write_summaries(outcome: NightlyOutcome, config: NightlyConfig) -> None:
    out = outcome.output_dir
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "markdown": out / "summary.md",
        "html": out / "summary.html",
        "junit": out / "junit.xml",
        "json": out / "nightly.json",
    }
    outcome.files.update(files)
    write_text_atomic(files["markdown"], markdown_summary(outcome))
    write_text_atomic(files["html"], html_summary(outcome))
    write_text_atomic(files["junit"], junit_xml(outcome))
    write_text_atomic(files["json"], json.dumps(outcome.as_json(), indent=2) + "\n")
    # `latest/`: a fixed place for CI to pick up (step summary, artifacts, a chat hook).
    latest = config.output_path / LATEST
    latest.mkdir(parents=True, exist_ok=True)
    for path in sorted(out.iterdir()):
        if path.is_file():
            shutil.copyfile(path, latest / f".{path.name}.tmp")
            (latest / f".{path.name}.tmp").replace(latest / path.name)


def sorted_checks(checks: list[MetricCheck]) -> list[MetricCheck]:
    """Regressions first, then flaky ...; within a status by task, then pass, overall,
    graders."""
    return sorted(
        checks, key=lambda c: (STATUS_ORDER.index(c.status), c.task, METRICS.index(c.metric))
    )


# -- Markdown -----------------------------------------------------------------------------


def _cell(text: object) -> str:
    """A Markdown table cell: no pipe or newline may break the row."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _change(check: MetricCheck) -> str:
    if check.pairs == 0 or check.change != check.change:
        return "–"
    if check.metric == "pass":
        return f"{check.change * 100:+.0f} pts"
    return f"{check.change:+.3f}"


def _p(check: MetricCheck) -> str:
    if not check.pairs:
        return "–"
    if check.p_adjusted != check.p_value:
        return f"{check.p_value:.3g} (adj. {check.p_adjusted:.3g})"
    return f"{check.p_value:.3g}"


def markdown_summary(outcome: NightlyOutcome) -> str:
    lines = [
        f"## Nightly {outcome.nightly_id}: {STATUS_WORDS[outcome.status]}",
        "",
        outcome.headline(),
        "",
        f"Exit code {outcome.exit_code} · significance level {outcome.alpha:g} "
        f"(correction: {outcome.correction}) · started {outcome.started_at} · "
        f"finished {outcome.finished_at}"
        + (f" · commit {_code(outcome.git_commit[:12])}" if outcome.git_commit else ""),
    ]
    for e in outcome.evals:
        lines += ["", *_markdown_eval(e)]
    lines += [
        "",
        "<sub>A regression is a drop that is statistically significant (McNemar's exact test "
        "on paired pass/fail, the sign test on paired scores; pairs are task × sample × "
        "database), larger than its threshold, and not reproduced by re-grading the "
        "baseline's own answers (flaky). Infrastructure errors are never regressions.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _markdown_eval(e: EvalOutcome) -> list[str]:
    lines = [
        f"### {_cell(e.cell.name)}: {e.status}",
        "",
        f"Model {_code(e.cell.model)}, prompt {_code(e.cell.prompt)}; tonight's run "
        f"{_code(e.run_id)} ({e.rows} of {e.expected_rows} rows, {e.infra_errors} "
        "infrastructure error(s) or missing)"
        + (
            f"; baseline {_code(e.baseline.run_id)} (blessed {e.baseline.blessed_at[:10]})."
            if e.baseline
            else "; no baseline."
        ),
    ]
    if e.infra:
        lines += ["", f"**Infrastructure failure:** {e.infra}"]
    if e.comparison is not None:
        lines += ["", f"> {e.comparison.verdict}"]
    if e.regressions:
        lines += ["", "**Regressions**", ""]
        lines += [f"- {check.describe()}" for check in e.regressions]
    if e.flaky:
        lines += ["", "**Flaky (not counted as regressions)**", ""]
        lines += [f"- {check.describe()}" for check in e.flaky]
    if e.checks:
        lines += [
            "",
            "| task | metric | baseline | tonight | change | worse / better | p | threshold "
            "| status |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for c in sorted_checks(e.checks):
            status = f"**{c.status}**" if c.status == "regression" else c.status
            lines.append(
                f"| {_cell(c.task)} | {_cell(c.metric)} | {c.value_text(c.baseline)} | "
                f"{c.value_text(c.candidate)} | {_change(c)} | {c.worse} / {c.better} | "
                f"{_p(c)} | {c.threshold:g} | {status} |"
            )
    if e.notes:
        lines += ["", *(f"- {_cell(note)}" for note in e.notes)]
    return lines


# -- JUnit ----------------------------------------------------------------------------------


def _xml(text: object) -> str:
    return _XML_UNSAFE.sub("?", str(text))


def junit_xml(outcome: NightlyOutcome) -> str:
    """JUnit XML as CI servers read it (testsuites > testsuite > testcase)."""
    root = ET.Element("testsuites", name=f"nightly {outcome.nightly_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for e in outcome.evals:
        suite = ET.SubElement(
            root, "testsuite", name=_xml(f"nightly.{e.cell.name}"), timestamp=outcome.started_at
        )
        properties = ET.SubElement(suite, "properties")
        for key, value in (
            ("model", e.cell.model),
            ("prompt", e.cell.prompt),
            ("run_id", e.run_id),
            ("baseline_run_id", e.baseline.run_id if e.baseline else ""),
            ("alpha", f"{outcome.alpha:g}"),
        ):
            ET.SubElement(properties, "property", name=key, value=_xml(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        classname = _xml(f"nightly.{e.cell.name}")
        if e.infra:
            case = ET.SubElement(suite, "testcase", classname=classname, name="infrastructure")
            ET.SubElement(case, "error", message=_xml(e.infra), type="infrastructure")
            counts["tests"] += 1
            counts["errors"] += 1
        if e.baseline is None:
            case = ET.SubElement(suite, "testcase", classname=classname, name="baseline")
            blessed = "this run was blessed as the baseline" if e.blessed else "nothing compared"
            ET.SubElement(case, "skipped", message=_xml(f"no baseline: {blessed}"))
            counts["tests"] += 1
            counts["skipped"] += 1
        for check in e.checks:
            case = ET.SubElement(suite, "testcase", classname=classname, name=_xml(check.name))
            counts["tests"] += 1
            if check.status == "regression":
                failure = ET.SubElement(
                    case, "failure", message=_xml(check.describe()), type="regression"
                )
                failure.text = _xml(_failure_details(e, check))
                counts["failures"] += 1
            elif check.status in ("flaky", "no-data"):
                ET.SubElement(case, "skipped", message=_xml(f"{check.status}: {check.describe()}"))
                counts["skipped"] += 1
            else:
                ET.SubElement(case, "system-out").text = _xml(f"{check.status}: {check.describe()}")
        for key, count in counts.items():
            suite.set(key, str(count))
            totals[key] += count
    for key, count in totals.items():
        root.set(key, str(count))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _failure_details(e: EvalOutcome, check: MetricCheck) -> str:
    """The task's own verdict and what flipped, for the CI page of a failed case."""
    comparison = e.task_comparisons.get(check.task)
    if comparison is None:
        return check.describe()
    lines = [comparison.verdict]
    for title, flips in (
        ("hidden tests broken tonight", comparison.tests_broken),
        ("findings new tonight", comparison.findings_new),
    ):
        for flip in flips:
            lines.append(f"{title}: {flip.name} ({flip.count} pairs: {'; '.join(flip.examples)})")
    if comparison.regressed_rows:
        lines.append("rows broken: " + "; ".join(comparison.regressed_rows))
    lines.append(f"baseline run {e.baseline.run_id if e.baseline else '–'}, tonight {e.run_id}")
    return "\n".join(lines)


# -- HTML -----------------------------------------------------------------------------------


def html_summary(outcome: NightlyOutcome) -> str:
    env = environment()
    env.loader = ChoiceLoader(
        [
            PackageLoader("harness.nightly", "templates"),
            PackageLoader("harness.report", "templates"),
        ]
    )
    script = env.get_template("page.js.j2").render()
    css = env.get_template("page.css.j2").render()
    leaderboard = (
        os.path.relpath(outcome.leaderboard, outcome.output_dir) if outcome.leaderboard else None
    )
    return env.get_template("nightly.html.j2").render(
        script=Markup(script),
        css=Markup(css),
        csp=content_security_policy(script),
        n=outcome,
        evals=[(e, sorted_checks(e.checks)) for e in outcome.evals],
        leaderboard=leaderboard,
    )
