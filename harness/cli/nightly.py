"""`harness nightly` and `harness baseline`: their parsers and commands live with the
nightly (`harness/nightly/cli.py`); this module registers them."""

from __future__ import annotations

from harness.cli.common import Subparsers
from harness.nightly.cli import add_parsers, command_baseline, command_nightly


def add_parser(sub: Subparsers) -> None:
    add_parsers(sub)
    sub.choices["nightly"].set_defaults(handler=command_nightly)
    sub.choices["baseline"].set_defaults(handler=command_baseline)
