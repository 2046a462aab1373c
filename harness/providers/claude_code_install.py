"""The Claude Code CLI the harness runs: a pinned `@anthropic-ai/claude-code`, installed
with npm into the harness's own folder, never on the user's PATH.

    <cache>/claude-code/<version>/node_modules/@anthropic-ai/claude-code/bin/claude.exe

(`<cache>` is /var/cache/backend-agent-eval as root, else ~/.cache/backend-agent-eval;
HARNESS_CACHE_DIR overrides.) The package's install step puts a native executable there,
which needs nothing but the C library, so the folder holding it is all a sandbox mounts.
HARNESS_CLAUDE_CODE_VERSION picks another version. Node and npm come from Debian's
`nodejs` and `npm` packages (`make system-deps`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.settings import CACHE_DIR, CLAUDE_CODE_VERSION

PACKAGE = "@anthropic-ai/claude-code"
INSTALL_TIMEOUT_S = 900.0
_BIN = Path("node_modules") / "@anthropic-ai" / "claude-code" / "bin"


def pinned_version() -> str:
    return CLAUDE_CODE_VERSION.get()


def install_root(version: str | None = None) -> Path:
    return CACHE_DIR / "claude-code" / (version or pinned_version())


def bin_dir(version: str | None = None) -> Path:
    """The folder holding the CLI's executable (what the sandbox mounts)."""
    return install_root(version) / _BIN


def executable(version: str | None = None) -> Path:
    return bin_dir(version) / "claude.exe"


def installed_version(version: str | None = None) -> str | None:
    """What `claude --version` says, or None when the CLI is missing or does not run."""
    path = executable(version)
    if not path.is_file():
        return None
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.split()[0] if done.returncode == 0 and done.stdout.split() else None


def install(version: str | None = None, *, force: bool = False) -> Path:
    """Install the pinned CLI (once: a working install is kept) and return its executable.
    npm writes into a scratch folder that is renamed into place only when the CLI runs."""
    version = version or pinned_version()
    if not force and installed_version(version) == version:
        return executable(version)
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise HarnessError(
            "MODEL=claude-code: needs Node.js and npm to install the Claude Code CLI: "
            "`make system-deps` (as root), or `apt-get install -y nodejs npm`"
        )
    root = install_root(version)
    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root.parent))
    print(f"harness: installing {PACKAGE}@{version} into {root}", file=sys.stderr, flush=True)
    try:
        (scratch / "package.json").write_text('{"private": true}\n', encoding="utf-8")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--save-exact", f"{PACKAGE}@{version}"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise HarnessError(
                f"npm could not install {PACKAGE}@{version}: {done.stderr.strip()[-1500:]}"
            )
        scratch.chmod(0o755)  # the sandbox's unprivileged user runs it
        if root.exists():
            shutil.rmtree(root)
        scratch.rename(root)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"could not install {PACKAGE}@{version}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = installed_version(version)
    if found != version:
        raise HarnessError(
            f"{PACKAGE}@{version} was installed into {root} but `claude --version` says {found!r}"
        )
    return executable(version)
