"""`harness selftest`: grade every reference, mutant and null agent: a matrix."""

from __future__ import annotations

import argparse

from harness.cli.common import DB_DEFAULT, Subparsers, add_runtime
from harness.core.settings import DEFAULT_TASKS_SPEC
from harness.grading.selftest import selftest_main
from harness.run.config import parse_databases
from harness.sandbox.backend import resolve_backend


def add_parser(sub: Subparsers) -> None:
    selftest = sub.add_parser("selftest", help="grade every reference and mutant: a matrix")
    selftest.add_argument("--tasks", default=DEFAULT_TASKS_SPEC)
    selftest.add_argument("--db", default=DB_DEFAULT)
    selftest.add_argument("--mutant", default=None, help="only mutants whose name contains this")
    add_runtime(selftest, default="local")
    selftest.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return selftest_main(
        args.tasks, parse_databases(args.db), args.mutant, resolve_backend(args.runtime)
    )
