"""The fuzz grader's cells: which (operation x check) pairs are scored, and when a cell
counts as having run.

An operation is one of the task's contract operations (`METHOD /path` as the contract
document writes it). Whether a check applies to it is decided by the check's rule in
harness/graders/calibration/fuzz.yaml (`applies_to`), from the contract document alone, minus
the per-task exceptions listed there with their reasons. A cell that does not apply is
not scored; one that applies is failed unless the check really ran on it and found
nothing that counts.

"Ran" is stricter than schemathesis' own bookkeeping, which records a success whenever
a check returns without complaint, including when it had nothing to judge:

- `response_schema_conformance`, `content_type_conformance` and
  `response_headers_conformance` judge a response only when the contract documents its
  status for the operation (an app answering 500, or 200 where the contract says 201,
  gives them nothing to check).
- `ignored_auth` judges an operation only when a request with the fuzz user's token got
  a 2xx: it then sends the request again without credentials and with a forged token.
- `use_after_free` judges a read of a resource the same scenario deleted with a 2xx;
  it ran for that DELETE operation (where schemathesis reports its failures).
- `ensure_resource_availability` judges a request that follows a link from a POST that
  created a resource (2xx/3xx) to that resource; it ran for that POST operation.
- every other check ran on an operation when it judged any response of it.
A failure always means the check ran.

And an operation is credited only when the run reached it: when it answered at least one
request with a 2xx. An app answering every request with a well-formed 422 or 404 never
crashes and never breaks a schema, but nothing of the operation was exercised; its cells
count as failed ("not-reached"), except on the operations fuzz.yaml lists as
`unreachable` (a 2xx needs data generated requests cannot hold, e.g. a password).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

AppliesTo = Literal[
    "every-operation",
    "secured-operations",
    "deletes-readable-resource",
    "creates-readable-resource",
    "documented-response-headers",
    "required-header-parameters",
]
CellState = Literal[
    "passed",
    "failed",
    "never-ran",
    "not-exercised",
    "not-reached",
    "not-implemented",
    "not-applicable",
]
_PARAMETER = re.compile(r"\{[^}/]*\}")
_METHODS = ("get", "put", "post", "delete", "patch")
# Methods whose successful answer re-creates rather than reads (use_after_free skips them).
_CREATING = frozenset({"POST", "PUT"})
_NON_CREATING = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PATCH"})
_NAMED_PARAMETER = re.compile(r"\{([^{}]+)\}")
# Checks that judge a response only against what the contract documents for its status.
RESPONSE_CHECKS = frozenset(
    {"response_schema_conformance", "content_type_conformance", "response_headers_conformance"}
)


@dataclass(frozen=True)
class ContractOperation:
    method: str
    path: str
    spec: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def contract_operations(document: Mapping[str, Any]) -> dict[str, ContractOperation]:
    """`METHOD /path` -> the operation, in document order."""
    operations: dict[str, ContractOperation] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in _METHODS:
            spec = item.get(method)
            if isinstance(spec, Mapping):
                operation = ContractOperation(method.upper(), str(path), spec, item)
                operations[operation.label] = operation
    return operations


def applies(rule: AppliesTo, operation: ContractOperation, document: Mapping[str, Any]) -> bool:
    """Whether a check with this rule judges this contract operation."""
    if rule == "every-operation":
        return True
    if rule == "secured-operations":
        return is_secured(operation, document)
    if rule == "deletes-readable-resource":
        return _deletes_readable_resource(operation, document)
    if rule == "creates-readable-resource":
        return _creates_readable_resource(operation, document)
    if rule == "documented-response-headers":
        return any(
            isinstance(response, Mapping) and response.get("headers")
            for response in (operation.spec.get("responses") or {}).values()
        )
    return any(
        parameter.get("in") == "header" and parameter.get("required")
        for parameter in _parameters(operation, document)
    )


def is_secured(operation: ContractOperation, document: Mapping[str, Any]) -> bool:
    """The contract requires credentials: a non-empty `security` (the operation's, else
    the document's) with no empty alternative (`{}` makes credentials optional)."""
    requirements = operation.spec.get("security", document.get("security"))
    if not isinstance(requirements, list) or not requirements:
        return False
    return all(isinstance(item, Mapping) and item for item in requirements)


def _deletes_readable_resource(operation: ContractOperation, document: Mapping[str, Any]) -> bool:
    """A DELETE of one resource (a path parameter) that the contract can create (a POST
    on a parent path) and read back (a GET on its own path)."""
    if operation.method != "DELETE" or not _PARAMETER.search(operation.path):
        return False
    return "get" in operation.path_item and _created_by_parent(operation.path, document)


def _creates_readable_resource(operation: ContractOperation, document: Mapping[str, Any]) -> bool:
    """A POST on a collection whose items the contract reads back (GET on `path/{id}`)."""
    if operation.method != "POST":
        return False
    return any(
        "get" in item and _is_item_of(str(path), operation.path)
        for path, item in (document.get("paths") or {}).items()
        if isinstance(item, Mapping)
    )


def _created_by_parent(path: str, document: Mapping[str, Any]) -> bool:
    return any(
        "post" in item and _is_item_of(path, str(parent))
        for parent, item in (document.get("paths") or {}).items()
        if isinstance(item, Mapping)
    )


def _is_item_of(path: str, collection: str) -> bool:
    """`/posts/{id}` is an item of `/posts` (one more segment, a parameter)."""
    head, _, last = path.rstrip("/").rpartition("/")
    return head == collection.rstrip("/") and bool(_PARAMETER.fullmatch(last))


def _parameters(operation: ContractOperation, document: Mapping[str, Any]) -> Iterator[Any]:
    for parameter in [
        *(operation.path_item.get("parameters") or []),
        *(operation.spec.get("parameters") or []),
    ]:
        yield _resolve(parameter, document)


def _resolve(node: Any, document: Mapping[str, Any]) -> Any:
    """Follow one local `$ref` (`#/components/...`)."""
    if not isinstance(node, Mapping) or not isinstance(node.get("$ref"), str):
        return node if isinstance(node, Mapping) else {}
    target: Any = document
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    return target if isinstance(target, Mapping) else {}


# -- "ran": what one recorded test case shows ------------------------------------------


@dataclass
class RecordedCase:
    """One request of a scenario, as the event stream recorded it."""

    id: str
    parent_id: str | None
    operation: str | None  # the contract operation, None when not one of them
    method: str
    path: str
    path_parameters: dict[str, Any]
    status: int | None
    transition_applied: bool


def documented_statuses(document: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Per contract operation, the response keys it documents (`200`, `4XX`, `default`)."""
    return {
        label: frozenset(str(key).upper() for key in (operation.spec.get("responses") or {}))
        for label, operation in contract_operations(document).items()
    }


def is_documented(status: int | None, documented: frozenset[str]) -> bool:
    if status is None:
        return False
    return bool({str(status), f"{status // 100}XX", "DEFAULT"} & documented)


def ran_on(
    check: str,
    case: RecordedCase,
    cases: Mapping[str, RecordedCase],
    documented: Mapping[str, frozenset[str]],
) -> list[str]:
    """The contract operations on which `check`, judging this case without failing,
    really ran (a failure always counts as having run where it is reported)."""
    if case.operation is None:
        return []
    if check in RESPONSE_CHECKS:
        known = documented.get(case.operation, frozenset())
        return [case.operation] if is_documented(case.status, known) else []
    if check == "ignored_auth":
        ok = case.status is not None and 200 <= case.status < 300
        return [case.operation] if ok else []
    if check == "use_after_free":
        return _deleted_before(case, cases)
    if check == "ensure_resource_availability":
        return _created_by(case, cases)
    return [case.operation]


def _root(case: RecordedCase, cases: Mapping[str, RecordedCase]) -> str:
    seen: set[str] = set()
    current = case
    while current.parent_id is not None and current.parent_id in cases:
        if current.id in seen:
            break
        seen.add(current.id)
        current = cases[current.parent_id]
    return current.id


def _deleted_before(case: RecordedCase, cases: Mapping[str, RecordedCase]) -> list[str]:
    """DELETE operations that, earlier in the same scenario tree, deleted with a 2xx the
    resource this case reads (as schemathesis' check looks for them), with nothing
    re-creating it in between."""
    if case.method in _CREATING or case.method == "DELETE":
        return []
    order = list(cases)
    here = order.index(case.id)
    root = _root(case, cases)
    found: list[str] = []
    for index, other in enumerate(cases.values()):
        if index >= here:
            break
        parent = cases.get(other.parent_id) if other.parent_id else None
        if (
            other.method == "DELETE"
            and other.operation is not None
            and other.path_parameters
            and _succeeded(other.status)
            and parent is not None
            and _succeeded(parent.status)
            and _root(other, cases) == root
            and _is_prefix(other, case)
            and not _recreated(other, list(cases.values())[index + 1 : here])
        ):
            found.append(other.operation)
    return found


def _recreated(deleted: RecordedCase, between: list[RecordedCase]) -> bool:
    return any(
        other.method not in _NON_CREATING
        and _succeeded(other.status)
        and _is_prefix(other, deleted)
        for other in between
    )


def _created_by(case: RecordedCase, cases: Mapping[str, RecordedCase]) -> list[str]:
    """The POST operation whose just-created resource this linked request addressed
    (not after a DELETE of it, where a 404 is the right answer)."""
    parent = cases.get(case.parent_id) if case.parent_id else None
    if (
        parent is None
        or parent.operation is None
        or parent.method != "POST"
        or not case.transition_applied
        or parent.status is None
        or not 200 <= parent.status < 400
        or not case.path.startswith(parent.path.rstrip("/") + "/")
    ):
        return []
    earlier = list(cases.values())[: list(cases).index(case.id)]
    deleted = any(
        other.method == "DELETE" and _succeeded(other.status) and _is_prefix(other, case)
        for other in earlier
    )
    return [] if deleted else [parent.operation]


def _succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _is_prefix(outer: RecordedCase, inner: RecordedCase) -> bool:
    """`outer`'s path is a prefix of `inner`'s, parameters rendered (schemathesis' rule:
    literal segments may differ by a plural `s`)."""
    outer_parts = outer.path.rstrip("/").split("/")
    inner_parts = inner.path.rstrip("/").split("/")
    if len(outer_parts) > len(inner_parts):
        return False
    for left, right in zip(outer_parts, inner_parts, strict=False):
        if "{" in left and "{" in right:
            if _render(left, outer.path_parameters) != _render(right, inner.path_parameters):
                return False
        elif left != right and left.rstrip("s") != right.rstrip("s"):
            return False
    return True


def _render(segment: str, values: Mapping[str, Any]) -> str:
    return _NAMED_PARAMETER.sub(lambda match: str(values.get(match.group(1))), segment)
