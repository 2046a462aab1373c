"""The one console script: `harness eval | grade | report | compare | runtime | images | tasks`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.cli import (
    cache,
    claude_code,
    compare,
    eval,
    grade,
    images,
    nightly,
    regrade,
    report,
    runtime,
    selftest,
    tasks,
)
from harness.core.errors import HarnessError

# The commands in the order `harness --help` lists them; each module adds its parser(s)
# and sets `handler`. A new command is one module here and one line in this tuple.
COMMANDS = (
    eval,
    grade,
    report,
    compare,
    nightly,
    runtime,
    images,
    claude_code,
    tasks,
    cache,
    regrade,
    selftest,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
