"""The one console script: `harness eval | grade | report | compare | runtime | images | tasks`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from harness.core.errors import HarnessError, InputFileError
from harness.core.files import GRADES_DIR
from harness.core.settings import DEFAULT_MODEL, DEFAULT_PROMPT, RESULTS_DIR
from harness.core.store import RunStore
from harness.core.tasks import list_task_ids, load_task
from harness.grading.selftest import selftest_main
from harness.nightly.cli import add_parsers as add_nightly_parsers
from harness.nightly.cli import command_baseline, command_nightly
from harness.providers import GenerationParams, ModelResponse
from harness.providers.cache import ResponseCache
from harness.report import compare_command, comparison_text, render_leaderboard
from harness.run.config import EvalConfig, config_from_run, parse_databases, replace_config
from harness.run.engine import run_eval
from harness.run.regrade import regrade_run
from harness.run.worker import grade_response
from harness.sandbox.runtime_venv import ensure_runtime_venv
from harness.sandbox.servers import database_servers


def _add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("eval", help="generate with a model and grade every sample")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="provider spec: reference, replay:<dir>, anthropic:<model>, openai:<model>, "
        "openai-compatible:<model>, 'command:<cmd with {workspace} {prompt}>', a model alias "
        "(sonnet, opus, haiku, gpt), or agent (the prompt's front matter model) "
        "(default: reference)",
    )
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="agent@version")
    parser.add_argument("--tasks", default="all", help="comma list of task ids, or all")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--db", default="postgres,mysql", help="comma list: postgres,mysql")
    parser.add_argument("--runtime", default="auto", help="auto | local | docker")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-report", action="store_true", help="skip the leaderboard")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="ask the model even when an identical call's answer is cached",
    )
    parser.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="stop before model calls could cost more than this (needs a priced model)",
    )
    parser.add_argument(
        "--jobs", type=int, default=0, help="samples graded at once (default: one per core)"
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_ID",
        default=None,
        help="finish a stopped run: no finished row is redone, no model re-asked",
    )
    parser.add_argument(
        "--no-grade-cache",
        action="store_true",
        help="grade again even when an identical grade is cached",
    )


def _add_grade(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("grade", help="grade one response file (no model call)")
    parser.add_argument("--task", required=True)
    parser.add_argument("--response", required=True, type=Path, help="a Markdown answer")
    parser.add_argument("--db", default="postgres,mysql")
    parser.add_argument("--json", action="store_true", help="one JSON object per database")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="write the HTML leaderboard over all runs")
    report.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    report.add_argument("--out", type=Path, default=None)
    for kind in ("csv", "json"):
        report.add_argument(
            f"--{kind}",
            type=Path,
            nargs="?",
            const=True,
            default=None,
            metavar="PATH",
            help=f"also write the aggregated table as {kind.upper()} (default: beside --out)",
        )
    report.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")


def _add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "compare", help="compare two runs or prompt versions, paired, with a significance test"
    )
    for name in ("run_a", "run_b"):
        parser.add_argument(
            name,
            metavar=name.upper(),
            help="a run folder, a run id under --results-dir, or a selector over every run "
            "there: prompt=agent@v2, model=x,prompt=y, run=<id>",
        )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--html", type=Path, default=None, help="write the comparison page here")
    parser.add_argument("--json", type=Path, default=None, help="write the comparison as JSON")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when RUN_B is significantly worse than RUN_A",
    )


def command_compare(args: argparse.Namespace) -> int:
    result = compare_command(
        args.run_a,
        args.run_b,
        args.results_dir,
        html_out=args.html,
        json_out=args.json,
        alpha=args.alpha,
    )
    print(comparison_text(result), end="")
    if args.html is not None:
        print(f"harness: comparison in {args.html}", file=sys.stderr)
    return 1 if args.fail_on_regression and result.significant_regression else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_eval(sub)
    _add_grade(sub)
    _add_report(sub)
    _add_compare(sub)
    add_nightly_parsers(sub)
    runtime = sub.add_parser("runtime", help="the candidate runtime")
    runtime.add_argument("action", choices=["prepare"], help="build the runtime venv now")
    images = sub.add_parser("images", help="the docker runtime's images")
    images.add_argument("action", choices=["build"], help="pull or build what is missing")
    images.add_argument(
        "--offline",
        action="store_true",
        help="no registry: build equivalents from Debian packages (debootstrap, as root)",
    )
    sub.add_parser("tasks", help="list the tasks and their mutants")
    cache = sub.add_parser("cache", help="the model response cache")
    cache.add_argument("action", choices=["prune"], help="remove entries not used lately")
    cache.add_argument("--older-than-days", type=float, default=30.0)
    regrade = sub.add_parser("regrade", help="re-grade a run's stored responses, no model call")
    regrade.add_argument("run_id")
    regrade.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    selftest = sub.add_parser("selftest", help="grade every reference and mutant: a matrix")
    selftest.add_argument("--tasks", default="all")
    selftest.add_argument("--db", default="postgres,mysql")
    selftest.add_argument("--mutant", default=None, help="only mutants whose name contains this")
    return parser


def command_eval(args: argparse.Namespace) -> int:
    if args.resume:
        config = replace_config(
            config_from_run(args.results_dir, args.resume),
            jobs=args.jobs,
            grade_cache=not args.no_grade_cache,
            response_cache=not args.no_cache,
            **({"max_cost": args.max_cost} if args.max_cost is not None else {}),
        )
        run_eval(config)
        return _report_after(args)
    config = EvalConfig(
        model=args.model,
        prompt=args.prompt,
        tasks=args.tasks,
        samples=args.samples,
        databases=parse_databases(args.db),
        runtime=args.runtime,
        params=GenerationParams(
            temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
        ),
        results_dir=args.results_dir,
        run_id=args.run_id,
        jobs=args.jobs,
        grade_cache=not args.no_grade_cache,
        response_cache=not args.no_cache,
        max_cost=args.max_cost,
    )
    run_eval(config)
    return _report_after(args)


def _report_after(args: argparse.Namespace) -> int:
    if not getattr(args, "no_report", False):
        out = render_leaderboard(args.results_dir, args.results_dir / "leaderboard.html")
        print(f"harness: leaderboard in {out}", file=sys.stderr)
    return 0


def command_grade(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    try:
        text = args.response.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(args.response, f"cannot read the response: {exc}") from exc
    databases = parse_databases(args.db)
    python = ensure_runtime_venv()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    store = RunStore(args.results_dir / GRADES_DIR / f"{stamp}-{task.id}")
    response = ModelResponse(text=text, model=f"file:{args.response.name}")
    with database_servers(databases) as servers:
        results = grade_response(task, response, 0, servers, python, store)
    for result in results:
        result.model = response.model
        store.append_result(result)
        if args.json:
            print(json.dumps(result.public_json()))
        else:
            scores = " ".join(f"{k}={v:.2f}" for k, v in result.scores.items())
            print(
                f"{task.id} {result.database}: {scores or 'INFRA ERROR ' + str(result.infra_error)}"
            )
    print(f"harness: artifacts in {store.root}", file=sys.stderr)
    return 0


def command_tasks() -> int:
    for task_id in list_task_ids():
        task = load_task(task_id)
        print(f"{task.id} v{task.spec.version}: {task.spec.title}")
        for mutant in task.mutants:
            print(f"  mutant {mutant.name}: {mutant.description}")
    return 0


def command_images(args: argparse.Namespace) -> int:
    from harness.sandbox.docker_engine import connect_engine
    from harness.sandbox.docker_images import build_images

    began = time.monotonic()
    client = connect_engine()
    try:
        built = build_images(client, offline=args.offline)
    finally:
        client.close()
    for role, ref in built.refs().items():
        print(f"{role:8s} {ref}")
    print(f"harness: images ready in {time.monotonic() - began:.0f}s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "eval":
            return command_eval(args)
        if args.command == "grade":
            return command_grade(args)
        if args.command == "report":
            out = render_leaderboard(
                args.results_dir,
                args.out or args.results_dir / "leaderboard.html",
                csv_out=args.csv,
                json_out=args.json,
                seed=args.seed,
            )
            print(f"harness: leaderboard in {out}", file=sys.stderr)
            return 0
        if args.command == "compare":
            return command_compare(args)
        if args.command == "nightly":
            return command_nightly(args)
        if args.command == "baseline":
            return command_baseline(args)
        if args.command == "nightly":
            return command_nightly(args)
        if args.command == "baseline":
            return command_baseline(args)
        if args.command == "cache":
            cache = ResponseCache.default()
            removed = cache.prune(args.older_than_days)
            print(f"harness: removed {removed} cached response(s) from {cache.root}")
            return 0
        if args.command == "regrade":
            regrade_run(args.results_dir, args.run_id)
            return _report_after(args)
        if args.command == "selftest":
            return selftest_main(args.tasks, parse_databases(args.db), args.mutant)
        if args.command == "runtime":
            print(ensure_runtime_venv())
            return 0
        if args.command == "images":
            return command_images(args)
        return command_tasks()
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
