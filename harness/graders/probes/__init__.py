"""What the fuzz and security graders need to know about a task, as data.

A task's plan, `tasks/<task id>/grading/probes.yaml`, says how to make a user with a known
password, how to log in, which requests need a token, which resources to create and which
IDOR, mass assignment and SQL injection probes apply (`plan.py`). `client.py` is the only way the
graders talk to a candidate: a loopback-only HTTP client bounded in requests and time.
`tokens.py` handles JWTs as an attacker would, `evidence.py` reads what the app answered
and stored, `identity.py` draws the users, passwords and texts the probes send, afresh for
every grade. Every task has a plan: a task without one is an error naming the file.
"""

from harness.graders.probes.client import (
    NEUTRAL_USER_AGENT,
    Exchange,
    ProbeBudgetExceeded,
    ProbeClient,
    is_loopback_url,
)
from harness.graders.probes.plan import (
    Account,
    AccountSpec,
    MissingValue,
    ProbePlan,
    RequestTemplate,
    create_account,
    load_probe_plan,
    probes_digest,
    render,
    send_template,
)

__all__ = [
    "NEUTRAL_USER_AGENT",
    "Account",
    "AccountSpec",
    "Exchange",
    "MissingValue",
    "ProbeBudgetExceeded",
    "ProbeClient",
    "ProbePlan",
    "RequestTemplate",
    "create_account",
    "is_loopback_url",
    "load_probe_plan",
    "probes_digest",
    "render",
    "send_template",
]
