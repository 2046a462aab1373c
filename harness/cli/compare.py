"""`harness compare`: two runs or prompt versions, paired, with a significance test."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import Subparsers
from harness.core.settings import RESULTS_DIR
from harness.report import compare_command, comparison_text


def add_parser(sub: Subparsers) -> None:
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
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
