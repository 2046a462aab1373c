"""A docker run, assembled: the engine session (labels, sweep, firewall), the images, the
candidate runtime and the run's database servers; and the probe `RUNTIME=auto` uses."""

from __future__ import annotations

import docker

from harness.core.errors import InfrastructureError
from harness.core.settings import DATABASE_KINDS
from harness.sandbox.backend import Closing
from harness.sandbox.databases import DatabaseServer
from harness.sandbox.docker.app import AppLimits, DockerRuntime
from harness.sandbox.docker.engine import (
    DockerSession,
    connect_engine,
    engine_version,
    ensure_host_firewall,
)
from harness.sandbox.docker.images import ImageSet, ensure_images
from harness.sandbox.docker.servers import start_docker_server


class DockerBackend(Closing):
    """Everything a run in the docker runtime needs; closing removes all of it."""

    name = "docker"

    def __init__(
        self,
        run_id: str | None = None,
        *,
        build_images: bool = True,
        offline: bool | None = None,
        limits: AppLimits | None = None,
    ) -> None:
        client = connect_engine()
        try:
            self.engine = engine_version(client)
            self.images: ImageSet = ensure_images(client, offline=offline, build=build_images)
        except BaseException:
            client.close()
            raise
        self.session = DockerSession(run_id, client)
        try:
            self.session.open()
            self.runtime = DockerRuntime(self.session, self.images.runtime, limits)
            self.image_ids = {
                kind: str(client.images.get(self.images.database(kind)).id)
                for kind in DATABASE_KINDS
            }
        except docker.errors.DockerException as exc:
            self.session.close()
            raise InfrastructureError(f"docker backend: {exc}") from exc
        except BaseException:
            self.session.close()
            raise

    def open_server(self, kind: str) -> DatabaseServer:
        """The run's server for `kind` (a container; never a URL from the environment)."""
        return start_docker_server(kind, self.session, self.images.database(kind))

    def server_version(self, kind: str) -> str:
        """The database image's id: a rebuilt or different image is a different engine."""
        return f"docker {self.image_ids[kind]}"

    def can_restart(self, kind: str) -> bool:
        return True

    def describe(self) -> dict[str, str]:
        return {
            **self.runtime.describe(),
            "engine": self.engine,
            "postgres_image": self.images.postgres,
            "mysql_image": self.images.mysql,
            "offline_images": str(self.images.offline).lower(),
        }

    def close(self) -> None:
        self.session.close()


def docker_unavailable_reason(build_images: bool = True) -> str | None:
    """None when the docker runtime can run here, else why not (for `RUNTIME=auto`).

    It can when an engine answers, the host firewall rule is (or can be) in place, and
    the images exist or can be built (pulled, or offline from Debian packages).
    """
    try:
        client = connect_engine()
    except InfrastructureError as exc:
        return str(exc)
    try:
        ensure_host_firewall()
        ensure_images(client, build=build_images)
    except InfrastructureError as exc:
        return str(exc)
    finally:
        client.close()
    return None
