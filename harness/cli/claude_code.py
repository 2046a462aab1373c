"""`harness claude-code install`: the pinned Claude Code CLI that `MODEL=claude-code:` runs."""

from __future__ import annotations

import argparse

from harness.cli.common import Subparsers


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser("claude-code", help="the Claude Code CLI MODEL=claude-code: runs")
    parser.add_argument("action", choices=["install"], help="install the pinned CLI (npm)")
    parser.add_argument("--force", action="store_true", help="reinstall even if present")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.providers.claude_code_install import install

    print(install(force=args.force))
    return 0
