"""The images the docker runtime needs, as data, and how to get them.

Three roles: a PostgreSQL server, a MySQL-protocol server, and the candidate runtime.

- Online (`harness images build`): the official `postgres:16` and `mysql:8.4` are pulled
  (`HARNESS_POSTGRES_IMAGE` / `HARNESS_MYSQL_IMAGE` override them), and the runtime
  image is built on `python:3.11-slim-bookworm` (`HARNESS_PYTHON_IMAGE`).
- Offline (`harness images build --offline`, no registry): a Debian base is made with
  `debootstrap --variant=minbase` and `docker import` (the rootfs tarball is cached), and
  PostgreSQL and MariaDB images are built on it from Debian's packages, honouring the
  environment contract of the official images the harness relies on (see
  `images/postgres/entrypoint.sh` and `images/mariadb/entrypoint.sh`). The runtime
  image is built on the same base.

Either way the runtime image's Python packages come from a wheelhouse downloaded on the
host from `runtime-requirements.txt` (the one list the local runtime venv also uses):
pip inside a build container needs no index. Every image the harness builds is tagged
with a hash of its inputs (recipe folder, base, requirements), so it is rebuilt only
when an input changes; older tags of the same recipe are removed after a build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from harness.core import settings
from harness.core.errors import InfrastructureError
from harness.core.settings import CACHE_DIR, DATABASE_KINDS, RUNTIME_REQUIREMENTS
from harness.sandbox.docker.engine import LABEL_PREFIX

RECIPES_DIR = Path(__file__).resolve().parent / "images"
IMAGES_CACHE = CACHE_DIR / "images"
REPOSITORY = "backend-agent-eval"
LABEL_RECIPE = f"{LABEL_PREFIX}.recipe"
LABEL_INPUTS = f"{LABEL_PREFIX}.inputs"

DEFAULT_POSTGRES_IMAGE = "postgres:16"
DEFAULT_MYSQL_IMAGE = "mysql:8.4"
DEFAULT_PYTHON_IMAGE = "python:3.11-slim-bookworm"
IMAGE_ENV = {role: setting.name for role, setting in settings.IMAGE_OVERRIDES.items()}
DEBIAN_SUITE = settings.DEBIAN_SUITE.get()
DEBIAN_MIRROR = settings.DEBIAN_MIRROR.get()
DEBIAN_SECURITY_MIRROR = settings.DEBIAN_SECURITY_MIRROR.get()
# Wheels for the runtime image: CPython 3.11 on glibc 2.36 (Debian 12) x86-64.
WHEEL_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
    "any",
)
WHEEL_FLAGS = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--abi",
    "abi3",
    "--abi",
    "none",
    *(flag for platform in WHEEL_PLATFORMS for flag in ("--platform", platform)),
)

# What debootstrap's tree gets before it becomes the base image: apt sources with
# updates and security, no recommends, no docs/man/locales, no service starts in builds.
BASE_CONFIG: dict[str, str] = {
    "etc/apt/sources.list": (
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
        f"deb {DEBIAN_SECURITY_MIRROR} {DEBIAN_SUITE}-security main\n"
    ),
    "etc/apt/apt.conf.d/90backend-agent-eval": (
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        'Acquire::Languages "none";\n'
    ),
    "etc/dpkg/dpkg.cfg.d/90backend-agent-eval": (
        "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
        "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n"
        "path-exclude=/usr/share/locale/*\n"
    ),
    "usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
}

Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr, flush=True)


class ImagesUnavailable(InfrastructureError):
    """The images are missing and could not be pulled or built."""


@dataclass(frozen=True)
class Recipe:
    """An image the harness builds from a folder of `images/` on a given base."""

    role: str
    folder: str

    @property
    def repository(self) -> str:
        return f"{REPOSITORY}/{self.role}"

    def inputs(self) -> list[tuple[str, bytes]]:
        files = sorted(p for p in (RECIPES_DIR / self.folder).rglob("*") if p.is_file())
        found = [(str(p.relative_to(RECIPES_DIR)), p.read_bytes()) for p in files]
        if self.role == "runtime":
            found.append(("runtime-requirements.txt", RUNTIME_REQUIREMENTS.read_bytes()))
            found.append(("wheel-flags", " ".join(WHEEL_FLAGS).encode()))
        return found

    def tag(self, base: str) -> str:
        digest = hashlib.sha256(base.encode())
        for name, content in self.inputs():
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return f"{self.repository}:{digest.hexdigest()[:12]}"


RECIPES = {
    "postgres": Recipe("postgres", "postgres"),
    "mysql": Recipe("mariadb", "mariadb"),
    "runtime": Recipe("runtime", "runtime"),
}


@dataclass(frozen=True)
class ImageSet:
    """The image references a docker run uses."""

    postgres: str
    mysql: str
    runtime: str
    offline: bool

    def database(self, kind: str) -> str:
        if kind == "postgres":
            return self.postgres
        if kind == "mysql":
            return self.mysql
        raise InfrastructureError(f"no database image for {kind!r}")

    def refs(self) -> dict[str, str]:
        return {"postgres": self.postgres, "mysql": self.mysql, "runtime": self.runtime}


def _override(role: str) -> str | None:
    return settings.IMAGE_OVERRIDES[role].raw()


def debian_base_tag() -> str:
    digest = hashlib.sha256(f"{DEBIAN_SUITE}|minbase|{DEBIAN_MIRROR}".encode())
    for name, content in sorted(BASE_CONFIG.items()):
        digest.update(f"{name}\0{content}".encode())
    return f"{REPOSITORY}/debian:{DEBIAN_SUITE}-{digest.hexdigest()[:12]}"


def python_base() -> str:
    return _override("python") or DEFAULT_PYTHON_IMAGE


def planned_images(offline: bool) -> ImageSet:
    """The references a build in this mode produces for the current inputs."""
    base = debian_base_tag()
    runtime_base = base if offline else python_base()
    return ImageSet(
        postgres=_override("postgres")
        or (RECIPES["postgres"].tag(base) if offline else DEFAULT_POSTGRES_IMAGE),
        mysql=_override("mysql")
        or (RECIPES["mysql"].tag(base) if offline else DEFAULT_MYSQL_IMAGE),
        runtime=RECIPES["runtime"].tag(runtime_base),
        offline=offline,
    )


def image_present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def missing_images(client: docker.DockerClient, images: ImageSet) -> list[str]:
    return [ref for ref in images.refs().values() if not image_present(client, ref)]


# -- the cache folder and its lock ------------------------------------------------------


@contextmanager
def _cache_lock() -> Iterator[Path]:
    IMAGES_CACHE.mkdir(parents=True, exist_ok=True)
    with (IMAGES_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield IMAGES_CACHE


def _mode_file() -> Path:
    return IMAGES_CACHE / "mode"


def remembered_mode() -> bool | None:
    """Whether the last build was offline (None: never built here)."""
    try:
        mode = _mode_file().read_text().strip()
    except OSError:
        return None
    return {"offline": True, "online": False}.get(mode)


def _remember_mode(offline: bool) -> None:
    _mode_file().write_text("offline\n" if offline else "online\n")


# -- pulling ----------------------------------------------------------------------------


def pull(client: docker.DockerClient, ref: str, log: Log) -> None:
    if image_present(client, ref):
        return
    repository, tag = parse_repository_tag(ref)
    log(f"pulling {ref} ...")
    try:
        client.images.pull(repository, tag=tag or "latest")
    except docker.errors.APIError as exc:
        raise ImagesUnavailable(
            f"cannot pull {ref}: {exc.explanation or exc}. Without a registry, "
            "`harness images build --offline` builds equivalents from Debian packages"
        ) from exc


# -- the wheelhouse ---------------------------------------------------------------------


def wheelhouse_dir() -> Path:
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes())
    digest.update(" ".join(WHEEL_FLAGS).encode())
    return IMAGES_CACHE / f"wheelhouse-{digest.hexdigest()[:12]}"


def ensure_wheelhouse(log: Log) -> Path:
    """Wheels for every pinned package (and pip, to install them), downloaded once."""
    target = wheelhouse_dir()
    if (target / ".complete").exists():
        return target
    scratch = target.with_name(target.name + f".downloading-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    log(f"downloading the runtime wheelhouse into {target} ...")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--dest",
        str(scratch),
        *WHEEL_FLAGS,
        "-r",
        str(RUNTIME_REQUIREMENTS),
        "pip",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        errors = [line for line in result.stderr.splitlines() if "is ignored" not in line]
        raise ImagesUnavailable(
            "cannot download the runtime wheelhouse (pip download exit "
            f"{result.returncode}; is PyPI reachable?):\n" + "\n".join(errors[-20:])
        )
    (scratch / ".complete").write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    return target


# -- the offline Debian base ------------------------------------------------------------


def _debootstrap(tarball: Path, log: Log) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if os.geteuid() != 0 or not os.path.exists(debootstrap):
        raise ImagesUnavailable(
            "the offline build makes its Debian base with debootstrap, which needs root "
            "and the debootstrap package (apt-get install debootstrap)"
        )
    root = Path(tempfile.mkdtemp(prefix="harness-rootfs-", dir=IMAGES_CACHE))
    build_log = IMAGES_CACHE / "debootstrap.log"
    log(f"debootstrap {DEBIAN_SUITE} (minbase) from {DEBIAN_MIRROR} ...")
    try:
        with build_log.open("wb") as out:
            result = subprocess.run(
                [
                    debootstrap,
                    "--variant=minbase",
                    "--components=main",
                    DEBIAN_SUITE,
                    str(root / "rootfs"),
                    DEBIAN_MIRROR,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1800,
                check=False,
            )
        if result.returncode != 0:
            tail = build_log.read_text(errors="replace")[-2000:]
            raise ImagesUnavailable(
                f"debootstrap failed (exit {result.returncode}; is {DEBIAN_MIRROR} "
                f"reachable?); log {build_log}:\n{tail}"
            )
        rootfs = root / "rootfs"
        for relative, content in BASE_CONFIG.items():
            path = rootfs / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        (rootfs / "usr/sbin/policy-rc.d").chmod(0o755)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        scratch = tarball.with_name(tarball.name + f".{os.getpid()}")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(scratch), "."],
            check=True,
            timeout=600,
        )
        scratch.rename(tarball)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def ensure_debian_base(client: docker.DockerClient, log: Log) -> str:
    tag = debian_base_tag()
    if image_present(client, tag):
        return tag
    repository, version = parse_repository_tag(tag)
    tarball = IMAGES_CACHE / f"rootfs-{version}.tar"
    if not tarball.exists():
        _debootstrap(tarball, log)
    log(f"importing {tarball.name} as {tag} ...")
    try:
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=version,
            changes=[f'LABEL {LABEL_RECIPE}="debian"', 'CMD ["/bin/bash"]'],
        )
    except docker.errors.APIError as exc:
        raise ImagesUnavailable(f"docker import of {tarball} failed: {exc}") from exc
    _remove_older(client, "debian", tag)
    return tag


# -- building recipes -------------------------------------------------------------------


def _build(
    client: docker.DockerClient,
    recipe: Recipe,
    base: str,
    log: Log,
    extra: dict[str, Path] | None = None,
) -> str:
    tag = recipe.tag(base)
    if image_present(client, tag):
        return tag
    log(f"building {tag} on {base} ...")
    with tempfile.TemporaryDirectory(prefix="harness-build-") as folder:
        context = Path(folder)
        shutil.copytree(RECIPES_DIR / recipe.folder, context, dirs_exist_ok=True)
        for name, source in (extra or {}).items():
            if source.is_dir():
                shutil.copytree(source, context / name, ignore=shutil.ignore_patterns(".*"))
            else:
                shutil.copy2(source, context / name)
        lines: list[str] = []
        try:
            stream = client.api.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE": base},
                labels={LABEL_RECIPE: recipe.role, LABEL_INPUTS: tag.rsplit(":", 1)[1]},
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                _follow_build(chunk, lines, tag)
        except docker.errors.APIError as exc:
            raise ImagesUnavailable(f"building {tag} failed: {exc}") from exc
    if not image_present(client, tag):
        raise ImagesUnavailable(f"building {tag} produced no image:\n" + "".join(lines[-30:]))
    _remove_older(client, recipe.role, tag)
    return tag


def _follow_build(chunk: dict[str, Any], lines: list[str], tag: str) -> None:
    if "stream" in chunk:
        lines.append(str(chunk["stream"]))
    if "error" in chunk:
        raise ImagesUnavailable(f"building {tag} failed: {chunk['error']}\n" + "".join(lines[-30:]))


def _remove_older(client: docker.DockerClient, role: str, keep: str) -> None:
    """Old builds of a recipe (other input hashes) are garbage: remove them if unused."""
    for image in client.images.list(filters={"label": f"{LABEL_RECIPE}={role}"}):
        if keep in image.tags:
            continue
        for old in image.tags:
            try:
                client.images.remove(old, noprune=False)
            except docker.errors.APIError:
                pass


def _prune_stages(client: docker.DockerClient) -> None:
    """Untagged images our builds left (the runtime's build stage): garbage once done."""
    try:
        client.images.prune(filters={"dangling": True, "label": LABEL_RECIPE})
    except docker.errors.APIError:
        pass


def build_images(client: docker.DockerClient, offline: bool, log: Log = _stderr_log) -> ImageSet:
    """Pull or build whatever of the plan is missing; returns the plan.

    The independent steps (the two server images, the wheelhouse and the runtime image)
    run side by side: most of their time is waiting on package downloads.
    """
    plan = planned_images(offline)
    with _cache_lock():
        if offline:
            base = ensure_debian_base(client, log)
            runtime_base = base
        else:
            runtime_base = python_base()
            pull(client, runtime_base, log)

        def server(kind: str) -> None:
            if offline and not _override(kind):
                _build(client, RECIPES[kind], base, log)
            else:
                pull(client, plan.database(kind), log)

        def runtime() -> None:
            if not image_present(client, plan.runtime):
                extra = {
                    "wheelhouse": ensure_wheelhouse(log),
                    "runtime-requirements.txt": RUNTIME_REQUIREMENTS,
                }
                _build(client, RECIPES["runtime"], runtime_base, log, extra)

        with ThreadPoolExecutor(max_workers=3) as workers:
            steps = [workers.submit(server, kind) for kind in DATABASE_KINDS]
            steps.append(workers.submit(runtime))
            for step in steps:
                step.result()
        _prune_stages(client)
        _remember_mode(offline)
    return plan


def ensure_images(
    client: docker.DockerClient,
    offline: bool | None = None,
    build: bool = True,
    log: Log = _stderr_log,
) -> ImageSet:
    """The images for a docker run, building what is missing when `build`.

    `offline=None` follows the last `harness images build` on this machine; with none,
    it uses whichever complete set is present, else pulls, else builds offline.
    """
    if offline is None:
        offline = remembered_mode()
    if offline is not None:
        plan = planned_images(offline)
        if not missing_images(client, plan):
            return plan
        if not build:
            raise ImagesUnavailable(
                f"docker images missing: {', '.join(missing_images(client, plan))}; run "
                f"`harness images build{' --offline' if offline else ''}`"
            )
        return build_images(client, offline, log)
    for mode in (False, True):
        plan = planned_images(mode)
        if not missing_images(client, plan):
            return plan
    if not build:
        raise ImagesUnavailable(
            "the docker runtime's images are not built: run `harness images build` "
            "(or `harness images build --offline` without a registry)"
        )
    try:
        return build_images(client, offline=False, log=log)
    except ImagesUnavailable as online_error:
        log(f"{online_error}\nharness: building offline equivalents instead")
        try:
            return build_images(client, offline=True, log=log)
        except ImagesUnavailable as offline_error:
            raise ImagesUnavailable(
                f"neither pulling nor the offline build works.\n  pull: {online_error}\n"
                f"  offline: {offline_error}"
            ) from offline_error
