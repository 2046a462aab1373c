"""A content-addressed cache of model responses, so that a re-run makes no model call.

The key is the sha256 of a canonical JSON of everything that decides an answer: the
provider, its endpoint, the model, the system prompt, the user prompt, the sampling
parameters, the sample index (so SAMPLES=5 asks five times, and asks the same five
times again on a re-run) and, from round 2 of `--rounds`, the conversation so far (each
earlier answer and the feedback shown after it). Not the run id: a changed prompt is a
new key, never a stale hit. Only answers are stored; a failed call raises through and
leaves nothing behind. Entries are touched when read, so `prune` removes what has not
been used lately.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core import settings
from harness.providers.base import (
    GenerationRequest,
    ModelResponse,
    Provider,
    WrappedProvider,
    endpoint_of,
    is_cacheable,
)
from harness.providers.secrets import scrub

CACHE_FORMAT = 1
# Answers not worth replaying: a CLI agent cut off by its time limit may finish next time.
_NOT_CACHED_REASONS = frozenset({"timeout"})
# Providers that load the agent definition file itself, not only its system prompt.
AGENT_FILE_PROVIDERS = frozenset({"claude-code"})


def cache_key(provider: Provider, request: GenerationRequest) -> str:
    """The content hash of one call, independent of the run that makes it."""
    material = {
        "format": CACHE_FORMAT,
        "provider": provider.name,
        "endpoint": endpoint_of(provider),
        "model": provider.model,
        "system": request.system_prompt,
        "user": request.user_message,
        "params": request.params.model_dump(mode="json"),
        "sample": request.sample,
    }
    if request.history:  # a later round: the conversation so far decides the answer
        material["history"] = [[e.answer, e.feedback] for e in request.history]
    if provider.name in AGENT_FILE_PROVIDERS:  # they read the whole file, front matter too
        material["agent_file"] = request.agent_file
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CacheEntry(BaseModel):
    """One stored answer, with enough context to tell what it was for."""

    key: str
    stored_at: str
    provider: str
    model: str
    sample: int
    params: dict[str, Any]
    response: ModelResponse


class ResponseCache:
    """Entries live at `<root>/<key[:2]>/<key>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls) -> ResponseCache:
        """`<CACHE_DIR>/responses`, or the folder HARNESS_RESPONSE_CACHE names."""
        return cls(settings.RESPONSE_CACHE.get())

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ModelResponse | None:
        """The stored answer, marked `cached`; an unreadable entry counts as a miss."""
        path = self.path_for(key)
        try:
            entry = CacheEntry.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError):
            path.unlink(missing_ok=True)  # a torn or foreign file: ask the model again
            return None
        os.utime(path)  # recently used: kept by prune
        return entry.response.model_copy(update={"cached": True})

    def put(
        self, key: str, provider: Provider, request: GenerationRequest, response: ModelResponse
    ) -> None:
        """Store an answer atomically (write a scratch file, then rename it into place)."""
        stored = response.model_copy(
            update={
                "text": scrub(response.text, shapes=False),
                "files": {p: scrub(c, shapes=False) for p, c in response.files.items()}
                if response.files is not None
                else None,
                "cached": False,
            }
        )
        entry = CacheEntry(
            key=key,
            stored_at=datetime.now(UTC).isoformat(),
            provider=provider.name,
            model=provider.model,
            sample=request.sample,
            params=request.params.model_dump(mode="json"),
            response=stored,
        )
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(entry.model_dump_json(indent=2))
            os.replace(scratch, path)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("??/*.json")) if self.root.is_dir() else []

    def prune(self, older_than_days: float) -> int:
        """Remove entries not used for `older_than_days` (0 removes all); returns how many."""
        cutoff = time.time() - older_than_days * 86400
        removed = 0
        for path in self.entries():
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        for scratch in self.root.glob("??/.*.tmp") if self.root.is_dir() else []:
            if scratch.stat().st_mtime <= cutoff:
                scratch.unlink(missing_ok=True)  # left by a crash mid-write
        return removed


class CachedProvider(WrappedProvider):
    """A provider behind the cache: a hit answers without calling the provider at all."""

    def __init__(self, inner: Provider, cache: ResponseCache) -> None:
        super().__init__(inner)
        self.cache = cache
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()  # the runner generates from several workers

    def generate(self, request: GenerationRequest) -> ModelResponse:
        key = cache_key(self.inner, request)
        hit = self.cache.get(key)
        if hit is not None:
            with self._lock:
                self.hits += 1
            return hit
        response = self.inner.generate(request)  # an error propagates: nothing is stored
        with self._lock:
            self.misses += 1
        if response.finish_reason not in _NOT_CACHED_REASONS:
            self.cache.put(key, self.inner, request, response)
        return response

    def stats(self) -> dict[str, object]:
        return {"dir": str(self.cache.root), "hits": self.hits, "misses": self.misses}


def with_cache(provider: Provider, cache: ResponseCache | None) -> Provider:
    """Wrap cacheable providers (the default); the offline ones that opt out (reference,
    replay) read files that may change under the same prompt, so are never cached."""
    if cache is None or not is_cacheable(provider):
        return provider
    return CachedProvider(provider, cache)
