"""`harness regrade`: re-grade a run's stored responses, no model call."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import Subparsers, report_after
from harness.core.settings import RESULTS_DIR
from harness.run.regrade import regrade_run


def add_parser(sub: Subparsers) -> None:
    regrade = sub.add_parser("regrade", help="re-grade a run's stored responses, no model call")
    regrade.add_argument("run_id")
    regrade.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    regrade.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    regrade_run(args.results_dir, args.run_id)
    return report_after(args)
