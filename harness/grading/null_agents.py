"""Do-nothing apps: the answers an agent that built nothing could give. Each must score
about 0 on every task (the standing proof that no grader rewards doing nothing):
`harness selftest` and the test suite grade them all.

They are generated here, each a `main.py` with a FastAPI `app`:

- `hello-world`: `app = FastAPI()` and `GET /` (what a refusal with boilerplate boots).
- `not-found`: every path and method answers 404 (no OpenAPI document either).
- `empty-ok`: every path and method answers 200 `{}`.
- `server-error`: every path and method answers 500.
"""

from __future__ import annotations

_CATCH_ALL = """from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.api_route(
    "/{{path:path}}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
)
async def answer(path: str, request: Request) -> JSONResponse:
    return JSONResponse({body}, status_code={status})
"""

_HELLO_WORLD = """from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root() -> dict[str, str]:
    return {"message": "Hello World"}
"""

NULL_AGENTS: dict[str, str] = {
    "hello-world": _HELLO_WORLD,
    "not-found": _CATCH_ALL.format(body='{"detail": "Not Found"}', status=404),
    "empty-ok": _CATCH_ALL.format(body="{}", status=200),
    "server-error": _CATCH_ALL.format(body='{"detail": "Internal Server Error"}', status=500),
}

# What each null agent may score at most, overall (every hidden test, fuzz, security and
# schema must be 0 outright).
MAX_OVERALL = 0.05


def null_agent_files(name: str) -> dict[str, str]:
    """The files of one null agent (`main.py` alone)."""
    return {"main.py": NULL_AGENTS[name]}
