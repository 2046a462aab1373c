"""`harness tasks`: list the tasks and their mutants."""

from __future__ import annotations

import argparse

from harness.cli.common import Subparsers
from harness.core.tasks import list_task_ids, load_task


def add_parser(sub: Subparsers) -> None:
    sub.add_parser("tasks", help="list the tasks and their mutants").set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for task_id in list_task_ids():
        task = load_task(task_id)
        print(f"{task.id} v{task.spec.version}: {task.spec.title}")
        for mutant in task.mutants:
            print(f"  mutant {mutant.name}: {mutant.description}")
    return 0
