"""Constants, defaults and every `HARNESS_*` environment variable, in one place.

Each variable is declared once below (name, type, default, one-line meaning) and read
only through its declaration: `SETTING.get()` reads the environment when called, so a
malformed value is a `SettingError` that names the variable. An empty value counts as
unset. The README's table of variables lists exactly these declarations
(tests/test_settings.py checks it). Variables the harness sets for a process it starts
(the hidden tests, the fuzzer, a `command:` agent) are declared here too, `set_by`
"harness", so both sides agree on their names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from harness.core.errors import HarnessError

T = TypeVar("T")


class SettingError(HarnessError):
    """A `HARNESS_*` variable holds a value its declaration cannot parse."""


def _text(raw: str) -> str:
    return raw


def _path(raw: str) -> Path:
    return Path(raw)


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("is not a number") from None


def _positive(raw: str) -> float:
    value = _number(raw)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _whole(raw: str) -> int:
    value = _positive(raw)
    if value != int(value):
        raise ValueError("is not a whole number")
    return int(value)


_OFF = ("0", "off", "no", "false")
_ON = ("1", "on", "yes", "true")


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in _OFF:
        return False
    if value in _ON:
        return True
    raise ValueError(f"is not a flag (use one of: {', '.join(_ON + _OFF)})")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ValueError(f"is not one of: {', '.join(choices)}")
        return value

    return parse


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: how to parse it, its default and what it means."""

    name: str
    kind: str  # for the README: text, path, number, positive number, whole number, flag ...
    parse: Callable[[str], T]
    default: T
    meaning: str
    default_text: str | None = None  # how the README shows the default, when not str(default)
    set_by: str = "user"  # "harness": set by the harness for a process it starts

    def raw(self) -> str | None:
        """The variable's text, stripped; None when unset or empty."""
        value = os.environ.get(self.name, "").strip()
        return value or None

    def is_set(self) -> bool:
        return self.raw() is not None

    def get(self) -> T:
        """The parsed value, or the default when unset; a malformed one is an error."""
        raw = self.raw()
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise SettingError(f"{self.name}={raw!r} {exc} ({self.meaning})") from None

    def shown_default(self) -> str:
        if self.default_text is not None:
            return self.default_text
        if self.default in (None, ""):
            return "unset"
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)


SETTINGS: dict[str, Setting[object]] = {}


def declare(setting: Setting[T]) -> Setting[T]:
    if setting.name in SETTINGS:
        raise ValueError(f"{setting.name} is declared twice")
    if not setting.name.startswith("HARNESS_"):
        raise ValueError(f"{setting.name}: a setting's name starts with HARNESS_")
    SETTINGS[setting.name] = setting  # type: ignore[assignment]
    return setting


# --- where things are -----------------------------------------------------------------

ROOT = declare(
    Setting(
        "HARNESS_ROOT",
        "path",
        _path,
        Path(__file__).resolve().parents[2],
        "the project folder holding tasks/ and prompts/",
        default_text="this checkout",
    )
)
PROJECT_ROOT = ROOT.get()
TASKS_DIR = PROJECT_ROOT / "tasks"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
RESULTS = declare(
    Setting(
        "HARNESS_RESULTS_DIR",
        "path",
        _path,
        PROJECT_ROOT / "results",
        "where runs are written (default of --results-dir)",
        default_text="`<root>/results`",
    )
)
RESULTS_DIR = RESULTS.get()
# As root the candidate app runs as `nobody`, which must be able to read the runtime
# venv: a system cache folder rather than root's home.
_DEFAULT_CACHE = (
    Path("/var/cache/backend-agent-eval")
    if os.geteuid() == 0
    else Path.home() / ".cache" / "backend-agent-eval"
)
CACHE = declare(
    Setting(
        "HARNESS_CACHE_DIR",
        "path",
        _path,
        _DEFAULT_CACHE,
        "the harness's caches (runtime venv, images, responses, grades)",
        default_text="~/.cache/backend-agent-eval (root: /var/cache/backend-agent-eval)",
    )
)
CACHE_DIR = CACHE.get()
RESPONSE_CACHE = declare(
    Setting(
        "HARNESS_RESPONSE_CACHE",
        "path",
        _path,
        CACHE_DIR / "responses",
        "the model-response cache",
        default_text="`<cache>/responses`",
    )
)
GRADE_CACHE = declare(
    Setting(
        "HARNESS_GRADE_CACHE",
        "path",
        _path,
        CACHE_DIR / "grades",
        "the grade cache",
        default_text="`<cache>/grades`",
    )
)
PRICES_FILE = declare(
    Setting(
        "HARNESS_PRICES_FILE",
        "path",
        _path,
        None,
        "a price table overriding entries of harness/providers/prices.yaml",
    )
)
# The account a local candidate runs as when it cannot be sandboxed (a sandboxed one
# gets its own uid, harness/sandbox/local/uids.py).
APP_ACCOUNT = "nobody"

RUNTIME_REQUIREMENTS = Path(__file__).resolve().parents[1] / "sandbox" / "runtime-requirements.txt"

# --- what a run does by default (the CLI's defaults) ------------------------------------

DEFAULT_MODEL = "reference"
DEFAULT_PROMPT = "fastapi-backend-engineer@v1"
DEFAULT_DATABASES = ("postgres", "mysql")
DATABASE_KINDS = ("postgres", "mysql")
DEFAULT_DB_SPEC = ",".join(DEFAULT_DATABASES)  # --db
DEFAULT_TASKS_SPEC = "all"  # --tasks
DEFAULT_SAMPLES = 1  # --samples
DEFAULT_RUNTIME = "auto"  # --runtime
DEFAULT_MAX_TOKENS = 16000  # --max-tokens (GenerationParams.max_tokens)
DEFAULT_JOBS = 0  # --jobs: 0 is one per core
DEFAULT_PRUNE_DAYS = 30.0  # cache prune --older-than-days

EXECUTORS = ("threads", "ray")
EXECUTOR = declare(
    Setting(
        "HARNESS_EXECUTOR",
        "threads or ray",
        _choice(*EXECUTORS),
        "threads",
        "where `harness eval` grades (default of --executor): this machine's threads, "
        "or a Ray cluster",
    )
)
RAY_ADDRESS = declare(
    Setting(
        "HARNESS_RAY_ADDRESS",
        "text",
        _text,
        "",
        "the Ray cluster `--executor ray` joins (default of --ray-address; unset: "
        "Ray's own RAY_ADDRESS, else the cluster started on this machine)",
    )
)
RAY_SLOTS = declare(
    Setting(
        "HARNESS_RAY_SLOTS",
        "whole number",
        _whole,
        0,
        "grades at once on each Ray node (unset: the node's CPU count)",
    )
)

# --- the app under test -------------------------------------------------------------------

STARTUP_TIMEOUT = declare(
    Setting(
        "HARNESS_STARTUP_TIMEOUT",
        "positive number",
        _positive,
        20.0,
        "seconds a candidate app has to start answering",
    )
)
STARTUP_TIMEOUT_S = STARTUP_TIMEOUT.get()
# The whole hidden suite's cap; each test also has its own (HARNESS_TEST_TIMEOUT, 30 s)
# and a suite cut at the cap keeps the tests that finished.
HIDDEN_TESTS_TIMEOUT = declare(
    Setting(
        "HARNESS_HIDDEN_TESTS_TIMEOUT",
        "positive number",
        _positive,
        300.0,
        "seconds the whole hidden test suite may run",
    )
)
HIDDEN_TESTS_TIMEOUT_S = HIDDEN_TESTS_TIMEOUT.get()
TEST_TIMEOUT = declare(
    Setting(
        "HARNESS_TEST_TIMEOUT",
        "number",
        _number,
        30.0,
        "seconds one hidden test may run (0: no limit)",
    )
)
APP_LOG_LIMIT_BYTES = 2 * 1024 * 1024
APP_MEMORY = declare(
    Setting(
        "HARNESS_APP_MEMORY_MB",
        "whole number",
        _whole,
        1024,
        "memory limit (MB) of a local candidate app",
    )
)
APP_MEMORY_LIMIT_MB = APP_MEMORY.get()
LOCAL_SANDBOX = declare(
    Setting(
        "HARNESS_LOCAL_SANDBOX",
        "flag",
        _flag,
        True,
        "sandbox local candidates with bubblewrap (off: run them unsandboxed)",
        default_text="on",
    )
)
RUNTIME_PYTHON = declare(
    Setting(
        "HARNESS_RUNTIME_PYTHON",
        "path",
        _path,
        None,
        "the Python the local runtime venv is made from",
        default_text="this Python",
    )
)
POSTGRES_URL = declare(
    Setting(
        "HARNESS_POSTGRES_URL",
        "url",
        _text,
        "",
        "a PostgreSQL server to use instead of starting one",
        default_text="start one",
    )
)
MYSQL_URL = declare(
    Setting(
        "HARNESS_MYSQL_URL",
        "url",
        _text,
        "",
        "a MySQL/MariaDB server to use instead of starting one",
        default_text="start one",
    )
)
SERVER_URLS = {"postgres": POSTGRES_URL, "mysql": MYSQL_URL}


def server_url(kind: str) -> str | None:
    """The user's server for `kind` (HARNESS_POSTGRES_URL / HARNESS_MYSQL_URL), if any."""
    return SERVER_URLS[kind].raw()


# --- the docker runtime ------------------------------------------------------------------

DOCKER_MEMORY = declare(
    Setting(
        "HARNESS_DOCKER_MEMORY_MB",
        "positive number",
        _positive,
        512.0,
        "memory limit (MB) of a candidate container",
        default_text="512",
    )
)
DOCKER_CPUS = declare(
    Setting(
        "HARNESS_DOCKER_CPUS",
        "positive number",
        _positive,
        1.0,
        "CPUs of a candidate container",
        default_text="1",
    )
)
DOCKER_PIDS = declare(
    Setting(
        "HARNESS_DOCKER_PIDS",
        "positive number",
        _positive,
        128.0,
        "process limit of a candidate container",
        default_text="128",
    )
)
DOCKER_TMP = declare(
    Setting(
        "HARNESS_DOCKER_TMP_MB",
        "positive number",
        _positive,
        64.0,
        "size (MB) of a candidate container's /tmp",
        default_text="64",
    )
)
DOCKER_FIREWALL = declare(
    Setting(
        "HARNESS_DOCKER_FIREWALL",
        "text",
        _text,
        "",
        "`external`: the operator installed the bridge firewall rules",
        default_text="the harness adds them",
    )
)
POSTGRES_IMAGE = declare(
    Setting(
        "HARNESS_POSTGRES_IMAGE",
        "image",
        _text,
        "",
        "the PostgreSQL image",
        default_text="postgres:16",
    )
)
MYSQL_IMAGE = declare(
    Setting("HARNESS_MYSQL_IMAGE", "image", _text, "", "the MySQL image", default_text="mysql:8.4")
)
PYTHON_IMAGE = declare(
    Setting(
        "HARNESS_PYTHON_IMAGE",
        "image",
        _text,
        "",
        "the runtime image's base",
        default_text="python:3.11-slim-bookworm",
    )
)
IMAGE_OVERRIDES = {"postgres": POSTGRES_IMAGE, "mysql": MYSQL_IMAGE, "python": PYTHON_IMAGE}
DEBIAN_SUITE = declare(
    Setting(
        "HARNESS_DEBIAN_SUITE",
        "text",
        _text,
        "bookworm",
        "Debian suite of the images the harness builds",
    )
)
DEBIAN_MIRROR = declare(
    Setting(
        "HARNESS_DEBIAN_MIRROR",
        "url",
        _text,
        "http://deb.debian.org/debian",
        "Debian mirror for those images",
    )
)
DEBIAN_SECURITY_MIRROR = declare(
    Setting(
        "HARNESS_DEBIAN_SECURITY_MIRROR",
        "url",
        _text,
        "http://deb.debian.org/debian-security",
        "Debian security mirror for those images",
    )
)

# --- model providers ---------------------------------------------------------------------

PROVIDER_CONCURRENCY = declare(
    Setting(
        "HARNESS_PROVIDER_CONCURRENCY",
        "positive number",
        _positive,
        4.0,
        "model calls in flight per provider",
        default_text="4",
    )
)
REQUEST_TIMEOUT = declare(
    Setting(
        "HARNESS_REQUEST_TIMEOUT",
        "positive number",
        _positive,
        600.0,
        "seconds one model API request may take",
        default_text="600",
    )
)
COMMAND_TIMEOUT = declare(
    Setting(
        "HARNESS_COMMAND_TIMEOUT",
        "positive number",
        _positive,
        1800.0,
        "seconds a `command:` agent may run",
        default_text="1800",
    )
)
COMMAND_SANDBOX = declare(
    Setting(
        "HARNESS_COMMAND_SANDBOX",
        "docker or none",
        _choice("docker", "none"),
        "docker",
        "where a `command:` agent runs (none: on the host, unsandboxed)",
    )
)
COMMAND_IMAGE = declare(
    Setting(
        "HARNESS_COMMAND_IMAGE",
        "image",
        _text,
        "",
        "a `command:` agent's image",
        default_text="the runtime image",
    )
)
COMMAND_MOUNTS = declare(
    Setting(
        "HARNESS_COMMAND_MOUNTS",
        "host:container[,...]",
        _text,
        "",
        "read-only mounts of a `command:` agent's program",
    )
)
COMMAND_ENV = declare(
    Setting(
        "HARNESS_COMMAND_ENV",
        "NAME[,...]",
        _text,
        "",
        "host variables passed to a `command:` agent",
    )
)
COMMAND_ENDPOINT = declare(
    Setting(
        "HARNESS_COMMAND_ENDPOINT",
        "URL[,...]",
        _text,
        "",
        "the only egress of a `command:` agent",
        default_text="no network",
    )
)
COMMAND_MEMORY = declare(
    Setting(
        "HARNESS_COMMAND_MEMORY_MB",
        "positive number",
        _positive,
        None,
        "memory limit (MB) of a `command:` agent",
        default_text="HARNESS_DOCKER_MEMORY_MB",
    )
)
COMMAND_CPUS = declare(
    Setting(
        "HARNESS_COMMAND_CPUS",
        "positive number",
        _positive,
        None,
        "CPUs of a `command:` agent",
        default_text="HARNESS_DOCKER_CPUS",
    )
)
COMMAND_PIDS = declare(
    Setting(
        "HARNESS_COMMAND_PIDS",
        "positive number",
        _positive,
        None,
        "process limit of a `command:` agent",
        default_text="HARNESS_DOCKER_PIDS",
    )
)
COMMAND_TMP = declare(
    Setting(
        "HARNESS_COMMAND_TMP_MB",
        "positive number",
        _positive,
        None,
        "size (MB) of a `command:` agent's /tmp",
        default_text="HARNESS_DOCKER_TMP_MB",
    )
)
CLAUDE_CODE_TIMEOUT = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_TIMEOUT",
        "positive number",
        _positive,
        1800.0,
        "seconds a `claude-code:` session may run",
        default_text="1800",
    )
)
CLAUDE_CODE_MAX_TURNS = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_MAX_TURNS",
        "whole number",
        _whole,
        80,
        "turns per `claude-code:` session (the CLI's --max-turns)",
    )
)
CLAUDE_CODE_MAX_BUDGET = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_MAX_BUDGET_USD",
        "positive number",
        _positive,
        5.0,
        "USD per `claude-code:` session (the CLI's --max-budget-usd)",
        default_text="5",
    )
)
CLAUDE_CODE_DB = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_DB",
        "postgres or mysql",
        _choice("postgres", "mysql"),
        "postgres",
        "the engine of the database a `claude-code:` session gets",
    )
)
CLAUDE_CODE_MEMORY = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_MEMORY_MB",
        "positive number",
        _positive,
        2048.0,
        "memory (MB) of a `claude-code:` session's container",
        default_text="2048",
    )
)
CLAUDE_CODE_TRAFFIC = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_TRAFFIC",
        "quiet or default",
        _choice("quiet", "default"),
        "quiet",
        "default: leave the CLI's non-essential traffic on (the proxy still blocks it)",
    )
)
CLAUDE_CODE_VERSION = declare(
    Setting(
        "HARNESS_CLAUDE_CODE_VERSION",
        "text",
        _text,
        "2.1.197",
        "the `@anthropic-ai/claude-code` version installed and run",
    )
)

# --- testing the harness -----------------------------------------------------------------

FAILPOINTS = declare(
    Setting(
        "HARNESS_FAILPOINTS",
        "point:pass[,...]",
        _text,
        "",
        "crash tests: SIGKILL the harness at these points (harness/core/failpoints.py)",
    )
)

# --- set by the harness for the processes it starts ----------------------------------------


def _passed(name: str, meaning: str) -> Setting[str]:
    return declare(Setting(name, "text", _text, "", meaning, default_text="", set_by="harness"))


APP_URL = _passed("HARNESS_APP_URL", "hidden tests: the app's base URL")
DB_URL = _passed("HARNESS_DB_URL", "hidden tests: the sample's database, as the app's user")
DB_KIND = _passed("HARNESS_DB_KIND", "hidden tests: postgres or mysql")
DB_USER = _passed("HARNESS_DB_USER", "hidden tests: the app's database user")
ADMIN_DB_URL = _passed("HARNESS_ADMIN_DB_URL", "hidden tests: an admin connection")
JWT_SECRET = _passed("HARNESS_JWT_SECRET", "hidden tests: the secret the app signs tokens with")
REPORT_PATH = _passed("HARNESS_REPORT_PATH", "hidden tests: where the per-test JSON report goes")
FUZZ_USER_AGENT = _passed("HARNESS_FUZZ_USER_AGENT", "fuzzer: the User-Agent it sends")
FUZZ_ORIGIN = _passed("HARNESS_FUZZ_ORIGIN", "fuzzer: the app's origin, the only one it may reach")
AGENT_WORKSPACE = _passed("HARNESS_WORKSPACE", "`command:` agent: its empty working folder")
AGENT_PROMPT_FILE = _passed("HARNESS_PROMPT_FILE", "`command:` agent: system prompt, ---, task")
AGENT_SYSTEM_FILE = _passed("HARNESS_SYSTEM_FILE", "`command:` agent: the system prompt")
AGENT_USER_FILE = _passed("HARNESS_USER_FILE", "`command:` agent: the task")


def readme_table() -> str:
    """The README's table of variables, one row per declaration, in declaration order."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS.values():
        default = "set by the harness" if setting.set_by == "harness" else setting.shown_default()
        rows.append(f"| `{setting.name}` | {setting.kind} | {default} | {setting.meaning} |")
    return "\n".join(rows) + "\n"
