"""`harness cache prune`: the model response cache."""

from __future__ import annotations

import argparse

from harness.cli.common import Subparsers
from harness.core.settings import DEFAULT_PRUNE_DAYS
from harness.providers.cache import ResponseCache


def add_parser(sub: Subparsers) -> None:
    cache = sub.add_parser("cache", help="the model response cache")
    cache.add_argument("action", choices=["prune"], help="remove entries not used lately")
    cache.add_argument("--older-than-days", type=float, default=DEFAULT_PRUNE_DAYS)
    cache.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cache = ResponseCache.default()
    removed = cache.prune(args.older_than_days)
    print(f"harness: removed {removed} cached response(s) from {cache.root}")
    return 0
