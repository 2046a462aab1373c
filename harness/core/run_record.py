"""The typed records of a run folder: `RunRecord` (run.json) and `ResponseRecord`
(a sample's response.json).

Every field a reader may meet missing has a default, so folders written by older
versions (before a field existed) still load; fields this version does not know are
kept (`extra="allow"`), so a record read and written back loses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")


class RunConfigRecord(_Record):
    """What the run was asked for (resume refuses a different one)."""

    model: str = ""
    prompt: str = ""
    tasks: list[str] | None = None
    samples: int | None = None
    databases: list[str] | None = None
    runtime: str | None = None  # as resolved: local or docker
    requested_runtime: str | None = None  # as asked (auto); absent in older runs
    requested_model: str | None = None  # as typed, before aliases; absent in older runs
    params: dict[str, Any] | None = None  # GenerationParams
    max_cost_usd: float | None = None
    response_cache: bool = True
    rounds: int = 1  # answers per sample (`--rounds`); absent in older runs: 1

    def missing(self, names: tuple[str, ...]) -> list[str]:
        """Which of `names` the stored record did not say (or said as null)."""
        return [
            name
            for name in names
            if name not in self.model_fields_set or getattr(self, name) is None
        ]

    @property
    def model_as_typed(self) -> str:
        return self.requested_model or self.model


class ProviderRecord(_Record):
    name: str = ""
    model: str = ""


class AgentRecord(_Record):
    name: str = ""
    version: str = ""
    path: str = ""
    sha256: str = ""


class TaskRecord(_Record):
    version: int = 0
    hash: str = ""


class EnvironmentRecord(_Record):
    python: str = ""
    platform: str = ""
    git_commit: str | None = None


class RunRecord(_Record):
    """run.json: written when the run starts (status `running`) and when it ends."""

    run_id: str = ""
    status: str | None = None  # running, complete, stopped: ..., regrade
    config: RunConfigRecord | None = None
    jobs: int | None = None
    provider: ProviderRecord | None = None
    usage: dict[str, Any] | None = None  # CostTracker.summary()
    response_cache: dict[str, Any] | None = None  # CachedProvider.stats()
    agent: AgentRecord | None = None
    tasks: dict[str, TaskRecord] = {}
    graders: dict[str, str] = {}
    database_servers: dict[str, str] = {}
    database_servers_started: list[str] = []
    server_restarts: int = 0
    runtime: dict[str, str] = {}
    runtime_packages: list[str] = []
    environment: EnvironmentRecord | None = None
    counters: dict[str, int] = {}
    started_at: str | None = None
    finished_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As written: the fields set (a record read from disk writes back what it read)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """The record in `path`: OSError when missing or unreadable, ValueError (a
        ValidationError among them) when it is not a run record."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


class Usage(BaseModel):
    """Tokens of one call. `input_tokens` counts every prompt token, including the
    `cached_tokens` the provider read from its prompt cache (billed at a lower rate)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


class ResponseFields(BaseModel):
    """What a provider's answer says besides its text (`ModelResponse` in
    harness.providers adds the text; `ResponseRecord` is how it is stored)."""

    model: str = ""
    finish_reason: str = "stop"
    usage: Usage = Usage()
    seconds: float = 0.0
    files: dict[str, str] | None = None
    # True when the harness's response cache answered: no model call, no spend.
    cached: bool = False
    # For agents that run programs (`command:`): whether they ran in the docker sandbox
    # (True) or on the host with the harness's environment (False). None: not applicable.
    sandboxed: bool | None = None


class ResponseRecord(ResponseFields, _Record):
    """response.json: a provider's answer without its text (that is response.md), and
    what the call cost when it was made. Written last: its presence marks the response
    as complete."""

    text: str = ""  # always empty here: the text is in response.md
    cost_usd: float | None = None

    @classmethod
    def read(cls, path: Path) -> ResponseRecord | None:
        """The record in `path`; None when it is missing or not a response record."""
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            return None
