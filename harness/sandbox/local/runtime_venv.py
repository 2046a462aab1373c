"""The candidate runtime for the local runtime: a venv holding exactly the pinned
allowed packages, built once per requirements hash and shared by every sample."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.core import settings
from harness.core.errors import InfrastructureError
from harness.core.settings import CACHE_DIR, RUNTIME_REQUIREMENTS

_SYSTEM_PYTHONS = ("/usr/bin/python3.11", "/usr/local/bin/python3.11", "/usr/bin/python3")


def world_accessible(path: Path) -> bool:
    """Whether an unprivileged account can reach and run `path` (no private home on the way)."""
    resolved = path.resolve()
    if not resolved.exists() or not resolved.stat().st_mode & 0o001:
        return False
    folders = {*resolved.parents, *path.absolute().parents}
    return all(folder.stat().st_mode & 0o001 for folder in folders)


def base_interpreter() -> Path:
    """The Python the runtime venv is made from.

    `HARNESS_RUNTIME_PYTHON` wins. As root the app runs as an unprivileged account, so
    prefer a system Python it can reach (a pyenv under /root is out of its reach).
    """
    chosen = settings.RUNTIME_PYTHON.get()
    if chosen is not None:
        return chosen
    current = Path(sys.executable)
    if os.geteuid() != 0 or world_accessible(current):
        return current
    for candidate in map(Path, _SYSTEM_PYTHONS):
        if world_accessible(candidate):
            return candidate
    return current


def runtime_venv_dir(cache_dir: Path = CACHE_DIR) -> Path:
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes())
    digest.update(str(base_interpreter()).encode())
    return cache_dir / "runtime" / f"venv-{digest.hexdigest()[:12]}"


def ensure_runtime_venv(cache_dir: Path = CACHE_DIR) -> Path:
    """Return the runtime venv's python, building it first if needed.

    Built in a scratch folder and renamed into place, under a lock, so a crash or a
    concurrent harness never leaves a half-installed venv that looks ready.
    """
    target = runtime_venv_dir(cache_dir)
    python = target / "bin" / "python"
    if python.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    _make_world_readable(cache_dir)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists():
            return python
        scratch = target.with_name(target.name + f".building-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            _build(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        scratch.rename(target)
    return python


def _build(folder: Path) -> None:
    print(f"harness: building the candidate runtime venv in {folder.parent} ...", file=sys.stderr)
    steps = [
        [str(base_interpreter()), "-m", "venv", str(folder)],
        [
            str(folder / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(RUNTIME_REQUIREMENTS),
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False, timeout=900)
        if result.returncode != 0:
            raise InfrastructureError(
                "could not build the candidate runtime venv "
                f"({' '.join(step[:4])} ... exit {result.returncode}):\n{result.stderr[-3000:]}"
            )
    _make_world_readable(folder)


def _make_world_readable(path: Path) -> None:
    """The app runs as an unprivileged account when the harness is root: let it read."""
    if os.geteuid() != 0:
        return
    for root, _dirs, files in os.walk(path):
        os.chmod(root, os.stat(root).st_mode | 0o755)
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, os.stat(full).st_mode | 0o444)
