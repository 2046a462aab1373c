"""`harness images build`: pull or build the docker runtime's missing images."""

from __future__ import annotations

import argparse
import sys
import time

from harness.cli.common import Subparsers


def add_parser(sub: Subparsers) -> None:
    images = sub.add_parser("images", help="the docker runtime's images")
    images.add_argument("action", choices=["build"], help="pull or build what is missing")
    images.add_argument(
        "--offline",
        action="store_true",
        help="no registry: build equivalents from Debian packages (debootstrap, as root)",
    )
    images.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.sandbox.docker.engine import connect_engine
    from harness.sandbox.docker.images import build_images

    began = time.monotonic()
    client = connect_engine()
    try:
        built = build_images(client, offline=args.offline)
    finally:
        client.close()
    for role, ref in built.refs().items():
        print(f"{role:8s} {ref}")
    print(f"harness: images ready in {time.monotonic() - began:.0f}s", file=sys.stderr)
    return 0
