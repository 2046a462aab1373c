"""What the fuzz and security graders need to know about a task, as data.

`graders/probes/<task id>.yaml` says how to make a user with a known password, how to log
in, which requests need a token, which resources to create and which IDOR, mass
assignment and SQL injection probes apply (`plan.py`). `client.py` is the only way the
graders talk to a candidate: a loopback-only HTTP client bounded in requests and time.
`tokens.py` handles JWTs as an attacker would, `evidence.py` reads what the app answered
and stored. A task without a plan gets the generic probes its OpenAPI paths allow.
"""

from graders.probes.client import Exchange, ProbeBudgetExceeded, ProbeClient, is_loopback_url
from graders.probes.plan import (
    Account,
    AccountSpec,
    MissingValue,
    ProbePlan,
    RequestTemplate,
    create_account,
    load_probe_plan,
    render,
    send_template,
)

__all__ = [
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
    "render",
    "send_template",
]
