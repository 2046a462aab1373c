"""One way to fingerprint the data and code a grade depends on: a grader folds the digest
of every file it reads into its version, so a grade cached under an older file is never
reused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def files_digest(paths: Iterable[Path]) -> str:
    """A short hash of the files' names and contents, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
