"""`harness runtime prepare`: build the local runtime's venv now."""

from __future__ import annotations

import argparse

from harness.cli.common import Subparsers
from harness.sandbox.local.runtime_venv import ensure_runtime_venv


def add_parser(sub: Subparsers) -> None:
    runtime = sub.add_parser("runtime", help="the candidate runtime")
    runtime.add_argument("action", choices=["prepare"], help="build the runtime venv now")
    runtime.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(ensure_runtime_venv())
    return 0
