"""`harness nightly` and `harness baseline set|show`: the argparse side, kept here so the
one console script (`harness.cli`) only registers and dispatches them."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.run_record import RunConfigRecord
from harness.core.store import RunStore
from harness.nightly.baseline import BaselineStore, describe, resolve_run_dir
from harness.nightly.config import NightlyConfig, default_config_path, eval_name, load_config
from harness.nightly.outcome import EXIT_INFRA, EXIT_USAGE
from harness.nightly.run import run_nightly


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nightly = sub.add_parser(
        "nightly",
        help="evaluate, compare with the blessed baseline, exit 1 on a regression",
        description="Exit codes: 0 no regression, 1 a significant regression over its "
        "threshold, 2 the nightly could not start, 3 an infrastructure failure.",
    )
    nightly.add_argument("--config", type=Path, default=None, help="default: nightly.yaml")
    nightly.add_argument(
        "--bless",
        action="store_true",
        help="afterwards, bless tonight's runs as the new baselines (not on infra failure)",
    )
    baseline = sub.add_parser("baseline", help="the blessed runs nightly compares with")
    actions = baseline.add_subparsers(dest="baseline_action", required=True)
    bless = actions.add_parser("set", help="bless a finished run as a baseline")
    bless.add_argument("run", metavar="RUN", help="a run folder, or a run id under results/")
    bless.add_argument(
        "--name",
        default=None,
        help="the baseline's name (default: the nightly.yaml evaluation the run belongs to)",
    )
    bless.add_argument("--config", type=Path, default=None, help="default: nightly.yaml")
    show = actions.add_parser("show", help="list the baselines")
    show.add_argument("name", nargs="?", default=None)
    show.add_argument("--config", type=Path, default=None, help="default: nightly.yaml")
    show.add_argument("--json", action="store_true", help="the records as JSON")


def _config(path: Path | None) -> NightlyConfig:
    """The named file must exist; the default one may be absent (then the defaults)."""
    if path is not None:
        return load_config(path)
    return load_config(default_config_path(), must_exist=False)


def command_nightly(args: argparse.Namespace) -> int:
    config = _config(args.config)
    try:
        outcome = run_nightly(config, bless=args.bless)
    except HarnessError:
        raise
    except Exception as exc:  # a crash must not pass for a regression (Python exits 1)
        traceback.print_exc()
        print(f"harness: nightly failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_INFRA
    print(outcome.files["markdown"].read_text(encoding="utf-8"), end="")
    return outcome.exit_code


def baseline_name_for(run_dir: Path, config: NightlyConfig) -> str:
    """The nightly evaluation a run belongs to: the one with its model (as typed) and
    prompt; else the only one nightly.yaml has; else one named after the run."""
    stored = RunStore(run_dir).read_run_record().config or RunConfigRecord()
    model = stored.model_as_typed
    prompt = stored.prompt
    cells = config.cells()
    for cell in cells:
        if prompt == cell.prompt and model in (cell.model, config.model_spec(cell.model)):
            return cell.name
    if len(cells) == 1:
        return cells[0].name
    return eval_name(model, prompt)


def command_baseline(args: argparse.Namespace) -> int:
    config = _config(args.config)
    store = BaselineStore(config.baseline_path)
    if args.baseline_action == "set":
        run_dir = resolve_run_dir(args.run, config.results_path)
        name = args.name or baseline_name_for(run_dir, config)
        record = store.bless(run_dir, name)
        print(describe(record, store))
        return 0
    records = [store.require(args.name)] if args.name else store.all()
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
    elif not records:
        print(f"no baselines in {store.root}: bless a run with `harness baseline set RUN`")
    else:
        print("\n\n".join(describe(record, store) for record in records))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.nightly nightly|baseline ...` (the same as `harness ...`)."""
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        if args.command == "nightly":
            return command_nightly(args)
        return command_baseline(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
