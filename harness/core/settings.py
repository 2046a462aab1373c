"""Constants and defaults in one place, so a reader finds every knob here."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("HARNESS_ROOT", Path(__file__).resolve().parents[2]))
TASKS_DIR = PROJECT_ROOT / "tasks"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
RESULTS_DIR = Path(os.environ.get("HARNESS_RESULTS_DIR", PROJECT_ROOT / "results"))
# As root the candidate app runs as `nobody`, which must be able to read the runtime
# venv: a system cache folder rather than root's home.
_DEFAULT_CACHE = (
    Path("/var/cache/backend-agent-eval")
    if os.geteuid() == 0
    else Path.home() / ".cache" / "backend-agent-eval"
)
CACHE_DIR = Path(os.environ.get("HARNESS_CACHE_DIR", _DEFAULT_CACHE))
# The account a local candidate runs as when it cannot be sandboxed (a sandboxed one
# gets its own uid, harness/sandbox/uids.py).
APP_ACCOUNT = "nobody"

RUNTIME_REQUIREMENTS = Path(__file__).resolve().parents[1] / "sandbox" / "runtime-requirements.txt"

DEFAULT_MODEL = "reference"
DEFAULT_PROMPT = "fastapi-backend-engineer@v1"
DEFAULT_DATABASES = ("postgres", "mysql")
DATABASE_KINDS = ("postgres", "mysql")

STARTUP_TIMEOUT_S = float(os.environ.get("HARNESS_STARTUP_TIMEOUT", "20"))
# The whole hidden suite's cap; each test also has its own (HARNESS_TEST_TIMEOUT, 30 s)
# and a suite cut at the cap keeps the tests that finished.
HIDDEN_TESTS_TIMEOUT_S = float(os.environ.get("HARNESS_HIDDEN_TESTS_TIMEOUT", "300"))
APP_LOG_LIMIT_BYTES = 2 * 1024 * 1024
APP_MEMORY_LIMIT_MB = int(os.environ.get("HARNESS_APP_MEMORY_MB", "1024"))
