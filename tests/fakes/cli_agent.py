"""A small stand-in for a CLI coding agent, run by the `command:` provider's tests.

    cli_agent.py --workspace DIR --prompt-file FILE [--mode MODE]

Modes: `files` (default) writes main.py and models.py into the workspace; `print`
prints a Markdown answer and writes nothing; `fail` exits 3 after printing to stderr;
`hang` writes its files, starts a child that sleeps, records both pids in the file
FAKE_AGENT_PIDS names, then sleeps forever;
`leak` writes and prints the value of FAKE_AGENT_KEY; `stdin` reads its stdin to the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

MAIN = "from fastapi import FastAPI\n\nfrom models import Item\n\napp = FastAPI()\n"
MODELS = "class Item:\n    pass\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--prompt-file", type=Path, required=True)
    parser.add_argument("--mode", default="files")
    args = parser.parse_args()
    prompt = args.prompt_file.read_text(encoding="utf-8")
    first_line = prompt.splitlines()[0] if prompt else ""
    if args.mode == "print":
        print(f"```python\n# main.py\n{MAIN}```")
        return 0
    if args.mode == "fail":
        print("agent: cannot reach the model", file=sys.stderr)
        return 3
    if args.mode == "stdin":
        data = sys.stdin.read()
        (args.workspace / "main.py").write_text(f"# stdin had {len(data)} chars\n{MAIN}")
        return 0
    if args.mode == "leak":
        key = os.environ.get("FAKE_AGENT_KEY", "")
        (args.workspace / "main.py").write_text(f"KEY = {key!r}\n{MAIN}")
        print(f"using key {key}")
        print(f"key again {key}", file=sys.stderr)
        return 0
    (args.workspace / "main.py").write_text(MAIN)
    (args.workspace / "models.py").write_text(f"# prompt starts: {first_line}\n{MODELS}")
    (args.workspace / "notes").mkdir()
    (args.workspace / "notes" / "plan.md").write_text("1. write the app\n")
    (args.workspace / "__pycache__").mkdir()
    (args.workspace / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\x00\x01")
    (args.workspace / ".hidden").write_text("not collected\n")
    if args.mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path(os.environ["FAKE_AGENT_PIDS"]).write_text(f"{os.getpid()} {child.pid}\n")
        time.sleep(600)
    print(f"wrote {len(list(args.workspace.iterdir()))} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
