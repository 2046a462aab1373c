"""`harness grade`: grade one response file (no model call), in a backend."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from harness.cli.common import DB_DEFAULT, Subparsers, add_runtime
from harness.core.errors import InputFileError
from harness.core.files import GRADES_DIR
from harness.core.settings import RESULTS_DIR
from harness.core.store import RunStore
from harness.core.tasks import load_task
from harness.providers import ModelResponse
from harness.run.config import parse_databases
from harness.run.worker import grade_response
from harness.sandbox.backend import open_backend, resolve_backend
from harness.sandbox.servers import database_servers


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser("grade", help="grade one response file (no model call)")
    parser.add_argument("--task", required=True)
    parser.add_argument("--response", required=True, type=Path, help="a Markdown answer")
    parser.add_argument("--db", default=DB_DEFAULT)
    add_runtime(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per database")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    try:
        text = args.response.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(args.response, f"cannot read the response: {exc}") from exc
    databases = parse_databases(args.db)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    store = RunStore(args.results_dir / GRADES_DIR / f"{stamp}-{task.id}")
    response = ModelResponse(text=text, model=f"file:{args.response.name}")
    backend_name = resolve_backend(args.runtime)
    with (
        open_backend(backend_name) as backend,
        database_servers(databases, backend) as servers,
    ):
        print(f"harness: grading in the {backend.name} runtime", file=sys.stderr)
        results = grade_response(task, response, 0, servers, backend.runtime, store)
    for result in results:
        result.model = response.model
        store.append_result(result)
        if args.json:
            print(json.dumps(result.public_json()))
        else:
            scores = " ".join(f"{k}={v:.2f}" for k, v in result.scores.items())
            print(
                f"{task.id} {result.database}: {scores or 'INFRA ERROR ' + str(result.infra_error)}"
            )
    print(f"harness: artifacts in {store.root}", file=sys.stderr)
    return 0
