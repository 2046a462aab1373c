"""Capture a child's output into a file, capped, without ever blocking the child."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO


class CappedLog:
    """Drains a pipe into `path` on a thread; past `limit` bytes it counts and drops."""

    def __init__(self, stream: IO[bytes], path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self._stream = stream
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        descriptor = self._stream.fileno()
        with self.path.open("wb") as out:
            while chunk := os.read(descriptor, 65536):
                kept = chunk[: max(0, self.limit - self.written)]
                if kept:
                    out.write(kept)
                    out.flush()
                    self.written += len(kept)
                self.dropped += len(chunk) - len(kept)
            if self.dropped:
                out.write(f"\n[harness: {self.dropped} more bytes of log dropped]\n".encode())

    def close(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def tail(self, limit: int = 3000) -> str:
        try:
            data = self.path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", errors="replace")
