"""`harness eval`: generate with a model and grade every sample."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import DB_CHOICES, DB_DEFAULT, Subparsers, add_runtime, report_after
from harness.core.settings import (
    DEFAULT_JOBS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    DEFAULT_SAMPLES,
    DEFAULT_TASKS_SPEC,
    EXECUTOR,
    EXECUTORS,
    RAY_ADDRESS,
    RESULTS_DIR,
)
from harness.providers import GenerationParams
from harness.run.config import EvalConfig, config_from_run, parse_databases, replace_config
from harness.run.engine import run_eval


def add_parser(sub: Subparsers) -> None:
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
    parser.add_argument(
        "--tasks", default=DEFAULT_TASKS_SPEC, help="comma list of task ids, or all"
    )
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="answers per sample, each graded; between them the model sees the boot log "
        "and the task's smoke check (default 1)",
    )
    parser.add_argument("--db", default=DB_DEFAULT, help=f"comma list: {DB_CHOICES}")
    add_runtime(parser)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
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
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help="samples graded at once (default: one per core)",
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
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=EXECUTOR.get(),
        help="where grading runs: threads on this machine, or ray (a Ray cluster: each "
        "node grades with its own runtime and database servers) (default: threads)",
    )
    parser.add_argument(
        "--ray-address",
        default=RAY_ADDRESS.get() or None,
        metavar="ADDR",
        help="the Ray cluster to join (host:port or ray://host:10001); default: RAY_ADDRESS, "
        "else a Ray started on this machine",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.resume:
        config = replace_config(
            config_from_run(args.results_dir, args.resume),
            jobs=args.jobs,
            grade_cache=not args.no_grade_cache,
            response_cache=not args.no_cache,
            executor=args.executor,
            ray_address=args.ray_address,
            **({"max_cost": args.max_cost} if args.max_cost is not None else {}),
        )
        run_eval(config)
        return report_after(args)
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
        rounds=args.rounds,
        executor=args.executor,
        ray_address=args.ray_address,
    )
    run_eval(config)
    return report_after(args)
