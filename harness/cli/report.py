"""`harness report`: write the HTML leaderboard over all runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import Subparsers
from harness.core.settings import RESULTS_DIR
from harness.report import render_leaderboard


def add_parser(sub: Subparsers) -> None:
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
    report.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = render_leaderboard(
        args.results_dir,
        args.out or args.results_dir / "leaderboard.html",
        csv_out=args.csv,
        json_out=args.json,
        seed=args.seed,
    )
    print(f"harness: leaderboard in {out}", file=sys.stderr)
    return 0
