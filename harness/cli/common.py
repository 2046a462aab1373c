"""What several commands share: the argparse types, `--runtime`, the leaderboard after a run."""

from __future__ import annotations

import argparse
import sys
from typing import TypeAlias

from harness.core.settings import (
    DATABASE_KINDS,
    DEFAULT_DB_SPEC,
    DEFAULT_RUNTIME,
)
from harness.report import render_leaderboard
from harness.sandbox.backend import RUNTIMES

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# `--db`: a comma list of engines, all of them by default.
DB_DEFAULT = DEFAULT_DB_SPEC
DB_CHOICES = ",".join(DATABASE_KINDS)


def add_runtime(parser: argparse.ArgumentParser, default: str = DEFAULT_RUNTIME) -> None:
    """`--runtime`: the backend candidates run in (`auto` picks one)."""
    parser.add_argument("--runtime", default=default, help=" | ".join(RUNTIMES))


def report_after(args: argparse.Namespace) -> int:
    """The leaderboard over every run, unless `--no-report`."""
    if not getattr(args, "no_report", False):
        out = render_leaderboard(args.results_dir, args.results_dir / "leaderboard.html")
        print(f"harness: leaderboard in {out}", file=sys.stderr)
    return 0
