"""Which of the task's contract operations the app implements (its coverage).

An operation is implemented when the app's own OpenAPI document lists it (same method,
same path once trailing slashes and parameter names are set aside) and a plain request
to it is not answered 405 (method not routed), nor 404 on a path without parameters
(nothing routed there; on `/users/{id}` a 404 is the contract's answer for an unknown id).
Everything else counts as not implemented: the graders that score per operation (fuzz,
security) fail those operations instead of passing them for want of anything to test,
and the composite scales the graders that cannot tell (boot, checklist) by the share.

The runtime contract tells every agent the app is started with `uvicorn main:app` and
read at `/openapi.json`; FastAPI serves that document unless told not to.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from harness.graders.probes.client import ProbeBudgetExceeded, ProbeClient

_PARAMETER = re.compile(r"\{[^}/]*\}")
_METHODS = ("get", "put", "post", "delete", "patch")


def operation_key(method: str, path: str) -> tuple[str, str]:
    """(METHOD, path) with parameters unnamed and no trailing slash: `/users/{user_id}/`
    and `/users/{id}` are the same route."""
    normal = _PARAMETER.sub("{}", path.strip())
    if len(normal) > 1:
        normal = normal.rstrip("/")
    return method.upper(), normal or "/"


def documented_operations(document: Any) -> set[tuple[str, str]]:
    """The operation keys an OpenAPI document lists (empty when it is not one)."""
    paths = document.get("paths") if isinstance(document, Mapping) else None
    if not isinstance(paths, Mapping):
        return set()
    return {
        operation_key(method, str(path))
        for path, item in paths.items()
        if isinstance(item, Mapping)
        for method in _METHODS
        if method in item
    }


@dataclass(frozen=True)
class ContractCoverage:
    """The contract's operations (`METHOD /path` as the contract writes them) and which
    of them the app implements, with the reason for each one it does not."""

    operations: tuple[str, ...]
    implemented: frozenset[str]
    missing: Mapping[str, str] = field(default_factory=dict)
    document_served: bool = False

    @property
    def ratio(self) -> float:
        return len(self.implemented) / len(self.operations) if self.operations else 0.0

    @cached_property
    def _implemented_keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(operation_key(*op.split(" ", 1)) for op in self.implemented)

    def covers(self, operation: str) -> bool:
        """Whether the app implements this contract operation (`METHOD /path`, any
        parameter names)."""
        return operation_key(*operation.split(" ", 1)) in self._implemented_keys

    def as_details(self) -> dict[str, Any]:
        return {
            "ratio": round(self.ratio, 4),
            "implemented": sorted(self.implemented),
            "missing": dict(sorted(self.missing.items())),
            "document_served": self.document_served,
        }

    @classmethod
    def full(cls, operations: Collection[str]) -> ContractCoverage:
        """Every operation implemented (for grading without a live app)."""
        return cls(tuple(operations), frozenset(operations), {}, True)

    @classmethod
    def none(cls, operations: Collection[str], why: str) -> ContractCoverage:
        return cls(tuple(operations), frozenset(), dict.fromkeys(operations, why), False)


def _probe_path(path: str) -> str:
    return _PARAMETER.sub("1", path)


def measure_coverage(client: ProbeClient, operations: Collection[str]) -> ContractCoverage:
    """Read the app's document and send one plain request per documented operation."""
    exchange = client.send("GET", "/openapi.json")
    document = exchange.json() if exchange.status == 200 else None
    documented = documented_operations(document)
    implemented: set[str] = set()
    missing: dict[str, str] = {}
    for operation in operations:
        method, path = operation.split(" ", 1)
        if operation_key(method, path) not in documented:
            missing[operation] = (
                "not in the app's OpenAPI document"
                if documented
                else f"the app serves no OpenAPI document (GET /openapi.json: {exchange.status})"
            )
            continue
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        try:
            answer = client.send(method, _probe_path(path), json_body=body)
        except ProbeBudgetExceeded:
            # The harness's budget ran out, not the app: the document's word stands.
            implemented.add(operation)
            continue
        if answer.status == 405:
            missing[operation] = f"{method} {_probe_path(path)} answers 405"
        elif answer.status == 404 and "{" not in path:
            missing[operation] = f"{method} {path} answers 404"
        else:
            implemented.add(operation)
    return ContractCoverage(
        tuple(operations), frozenset(implemented), missing, document_served=bool(documented)
    )
