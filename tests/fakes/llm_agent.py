"""A stand-in for a CLI agent that asks a model: it runs in the `command:` sandbox.

    llm_agent.py [--api anthropic|openai]

It reads the prompt from HARNESS_PROMPT_FILE, sends it to the Anthropic Messages API at
ANTHROPIC_BASE_URL (key ANTHROPIC_API_KEY) or to Chat Completions at OPENAI_BASE_URL
(key OPENAI_API_KEY) with the standard library (which honours HTTP(S)_PROXY, as real
SDKs do), expects the answer's text to be a JSON object {path: content}, and writes
those files into HARNESS_WORKSPACE. Stdlib only: it runs on the image's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any


def ask(api: str, prompt: str) -> str:
    if api == "anthropic":
        url = os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
        headers = {
            "x-api-key": os.environ["ANTHROPIC_API_KEY"],
            "anthropic-version": "2023-06-01",
        }
        body: dict[str, Any] = {"model": "claude-test", "max_tokens": 1000}
    else:
        url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
        body = {"model": "gpt-test"}
    body["messages"] = [{"role": "user", "content": prompt}]
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={**headers, "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if api == "anthropic":
        return str(answer["content"][0]["text"])
    return str(answer["choices"][0]["message"]["content"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", default="anthropic", choices=("anthropic", "openai"))
    args = parser.parse_args()
    prompt = Path(os.environ["HARNESS_PROMPT_FILE"]).read_text(encoding="utf-8")
    files = json.loads(ask(args.api, prompt))
    workspace = Path(os.environ["HARNESS_WORKSPACE"])
    for relative, content in files.items():
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    print(f"agent: wrote {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
