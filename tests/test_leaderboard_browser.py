"""The leaderboard in a real headless Chromium, driven over the Chrome DevTools
Protocol: it loads from file:// with no console error and no network request, the table
sorts on a real mouse click, a drill-down opens, and a run whose model output, findings,
logs and test names are full of markup executes none of it.

Chromium is Debian's `chromium` package (installed by .ci/run). Without it this test
fails, on purpose: a skipped browser test would hide a broken page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core.records import BootRecord, SampleResult
from harness.core.store import RunStore, write_json_atomic
from harness.graders.base import Finding
from harness.report.compare import compare_command
from harness.report.leaderboard import render_leaderboard

PAYLOAD = "</script><script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=1>"
SVG = "<svg onload=window.__pwned=1>"
EVIL_MODEL = f"evil{PAYLOAD}"
LOAD_TIMEOUT_S = 30.0


def find_chromium() -> str:
    candidates = [os.environ.get("HARNESS_CHROMIUM", ""), "chromium", "chromium-browser"]
    for name in candidates:
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.fail(
        "headless Chromium not found (looked for $HARNESS_CHROMIUM, chromium, "
        "chromium-browser): install Debian's package with `apt-get install -y chromium` "
        "(.ci/run does this)",
        pytrace=False,
    )


class DevTools:
    """A minimal CDP client: one browser websocket, one attached page session."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def call(self, method: str, params: dict[str, Any] | None = None, page: bool = True) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if page and self.session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            event = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise AssertionError(f"no {method} within {LOAD_TIMEOUT_S}s")

    def open(self, page: Path) -> str:
        """Load a file, forgetting the events of whatever was open before."""
        url = page.resolve().as_uri()
        self.call("Page.navigate", {"url": "about:blank"})
        self._wait_until_showing("about:blank")
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self._wait_until_showing(url)
        return url

    def _wait_until_showing(self, url: str) -> None:
        """Until the page at `url` has loaded: a load event may be a stale one."""
        probe = "location.href + ' ' + document.readyState"
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.evaluate(probe) == f"{url} complete":
                return
            time.sleep(0.05)
        raise AssertionError(f"{url} did not finish loading within {LOAD_TIMEOUT_S}s")

    def console_errors(self) -> list[dict[str, Any]]:
        """Console errors, uncaught exceptions and browser errors (a CSP refusal is one)."""
        return [
            event["params"]
            for event in self.events
            if (
                event.get("method") == "Runtime.consoleAPICalled"
                and event["params"]["type"] in ("error", "assert")
            )
            or event.get("method") == "Runtime.exceptionThrown"
            or (
                event.get("method") == "Log.entryAdded"
                and event["params"]["entry"]["level"] == "error"
            )
        ]

    def requests(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
        ]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector_expression: str) -> None:
        """A real mouse click in the middle of the element the expression returns."""
        box = self.evaluate(
            f"(() => {{ const e = {selector_expression}; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def connect(url: str) -> Any:
    try:
        from websockets.sync.client import connect as websocket_connect
    except ImportError:
        pytest.fail(
            "the browser test needs the `websockets` package in the harness venv "
            "(pyproject's dev extras)",
            pytrace=False,
        )
    return websocket_connect(url, max_size=None, open_timeout=LOAD_TIMEOUT_S)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = find_chromium()
    tmp_path = tmp_path_factory.mktemp("chromium")
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "chromium.log").open("wb"),
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"chromium did not start its DevTools endpoint:\n{log}", pytrace=False)
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}") as socket:
            tools = DevTools(socket)
            target = tools.call("Target.createTarget", {"url": "about:blank"}, page=False)
            attached = tools.call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                page=False,
            )
            tools.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable")
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            )
            yield tools
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _row(model: str, prompt: str, run: str, task: str, sample: int, db: str, **fields: object):
    base: dict[str, object] = {
        "task": task,
        "sample": sample,
        "database": db,
        "model": model,
        "prompt": prompt,
        "run_id": run,
        "boot": BootRecord(ok=True, seconds=0.5),
        "scores": {"boot": 1.0, "functional": 1.0, "overall": 1.0},
        "findings": [],
        "hidden_tests": {"passed": 3, "total": 3, "failed": []},
        "timings": {"total": 3.0},
    }
    base.update(fields)
    return SampleResult.model_validate(base)


def write_results(root: Path) -> Path:
    """Three honest models with different scores, and one whose every text is hostile."""
    for model, functional_by_sample in (
        ("alpha", [1.0, 1.0, 0.5]),
        ("beta", [0.5, 0.0, 1.0]),
        ("gamma", [1.0, 1.0, 1.0]),
    ):
        store = RunStore(root / f"run-{model}")
        store.write_run_info({"run_id": f"run-{model}"})
        for sample, functional in enumerate(functional_by_sample):
            for db in ("postgres", "mysql"):
                failed = [] if functional == 1.0 else ["test_update_user"]
                store.append_result(
                    _row(
                        model,
                        "agent@v1",
                        f"run-{model}",
                        "user-crud",
                        sample,
                        db,
                        scores={
                            "boot": 1.0,
                            "functional": functional,
                            "overall": 0.2 + 0.8 * functional,
                        },
                        hidden_tests={"passed": 3 - len(failed), "total": 3, "failed": failed},
                    )
                )
    store = RunStore(root / "run-evil")
    store.write_run_info({"run_id": "run-evil"})
    folder = store.sample_dir("user-crud", 0)
    store.write_files(
        folder / "files",
        {
            "main.py": f'HTML = "{PAYLOAD}"\n# {IMG}\n# {SVG}\napp = None\n',
            f"{IMG}.py": f"# {PAYLOAD}\n",
        },
    )
    write_json_atomic(folder / "response.json", {"usage": {"input_tokens": 10}, "cost_usd": 0.5})
    # A Claude Code session (MODEL=claude-code:) whose transcript is hostile too.
    write_json_atomic(
        folder / "session.json",
        {"finish_reason": "max_turns", "turns": 3, "tool_calls": {f"Write{IMG}": 2}},
    )
    events = [
        {"type": "assistant", "message": {"content": [{"type": "text", "text": PAYLOAD}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": SVG}]}},
    ]
    (folder / "transcript.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for db in ("postgres", "mysql"):
        artifacts = store.database_dir("user-crud", 0, db)
        (artifacts / "app.log").write_text(f"INFO started\n{PAYLOAD}\n{IMG}\n")
        write_json_atomic(
            artifacts / "hidden-tests.json",
            [
                {"nodeid": "t::ok", "name": "test_ok", "outcome": "passed", "message": ""},
                {
                    "nodeid": f"t::test_{SVG}",
                    "name": f"test_{SVG}",
                    "outcome": "failed",
                    "message": f"assert {PAYLOAD} == {IMG}",
                },
            ],
        )
        store.append_result(
            _row(
                EVIL_MODEL,
                f"p@<b>v1</b>{IMG}",
                "run-evil",
                "user-crud",
                0,
                db,
                boot=BootRecord(ok=True, seconds=0.5, error=None),
                scores={"boot": 1.0, "functional": 0.5, "security": 0.0, "overall": 0.4},
                findings=[
                    Finding(
                        grader="security",
                        check=f"sqli{IMG}",
                        severity="critical",
                        message=f"<b>bold</b>{PAYLOAD}",
                        evidence=f"curl -d '{PAYLOAD}' http://x/{SVG}",
                    ),
                    Finding(
                        grader="fuzz",
                        check="server-error",
                        severity="high",
                        message="500 on POST /users",
                        evidence=f"schemathesis reproduction: {PAYLOAD}",
                    ),
                ],
                hidden_tests={"passed": 1, "total": 2, "failed": [f"test_{SVG}"]},
            )
        )
    # A second hostile sample with no files: the raw answer is shown instead.
    no_files = store.sample_dir("user-crud", 1)
    (no_files / "response.md").write_text(f"Sorry! {PAYLOAD} {IMG}")
    store.append_result(
        _row(
            EVIL_MODEL,
            f"p@<b>v1</b>{IMG}",
            "run-evil",
            "user-crud",
            1,
            "postgres",
            boot=BootRecord(ok=False, seconds=0.0, error=f"no main.py {PAYLOAD}"),
            scores={"boot": 0.0, "functional": 0.0, "overall": 0.0},
            hidden_tests={},
        )
    )
    return root


def test_leaderboard_in_headless_chromium(
    browser: DevTools, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "results")
    page = render_leaderboard(results, tmp_path / "leaderboard.html")
    url = browser.open(page)

    # Loaded, fully built by its script.
    assert browser.evaluate("document.readyState") == "complete"
    assert browser.evaluate("document.querySelectorAll('#samples-table tbody tr').length") == 21

    # The table sorts on a real click: numbers best first, again for ascending.
    overall_values = (
        "(() => { const t = document.getElementById('leaderboard-table');"
        " const i = [...t.tHead.rows[0].cells].findIndex(c => c.dataset.key === 'overall');"
        " return [...t.tBodies[0].rows].map(r => parseFloat(r.cells[i].dataset.v)); })()"
    )
    header = "document.querySelector('#leaderboard-table th[data-key=\"overall\"]')"
    initial = browser.evaluate(overall_values)
    assert initial == sorted(initial, reverse=True)
    browser.click(header)
    browser.click(header)
    ascending = browser.evaluate(overall_values)
    assert ascending == sorted(initial)
    assert browser.evaluate(f"{header}.getAttribute('aria-sort')") == "ascending"
    models = (
        "[...document.querySelectorAll('#leaderboard-table tbody tr')]"
        ".map(r => r.cells[1].textContent)"
    )
    by_score = browser.evaluate(models)
    browser.click("document.querySelector('#leaderboard-table thead th:nth-child(2)')")
    by_name = browser.evaluate(models)
    assert by_name == sorted(by_score, key=str.lower) and by_name != by_score

    # The hostile model's row shows its name as text.
    assert EVIL_MODEL in browser.evaluate(models)
    shot = browser.screenshot(tmp_path / "leaderboard.png")

    # The drill-down opens on a click, with everything as text.
    browser.click(
        "[...document.querySelectorAll('#samples-table tbody tr')]"
        ".find(r => r.textContent.includes('evil') && r.textContent.includes('postgres')"
        " && r.cells[4].textContent === '0').querySelector('button')"
    )
    assert browser.evaluate("document.getElementById('detail').open") is True
    detail = browser.evaluate("document.getElementById('detail-body').textContent")
    for text in (PAYLOAD, IMG, SVG, f"test_{SVG}", "schemathesis reproduction", "<b>bold</b>"):
        assert text in detail
    assert "INFO started" in detail and 'HTML = "' in detail
    assert "Agent session" in detail and f"assistant: {PAYLOAD}" in detail
    assert f"result: {SVG}" in detail and f"Write{IMG} 2" in detail
    transcript = "[...document.querySelectorAll('#detail details')].at(-1)"
    assert browser.evaluate(f"{transcript}.open") is False  # collapsed until asked for
    markup = "#detail img, #detail script, #detail svg, #detail b"
    assert browser.evaluate(f"document.querySelectorAll('{markup}').length") == 0
    detail_shot = browser.screenshot(tmp_path / "leaderboard-drilldown.png")

    # The sample with no files shows the raw answer, as text.
    browser.evaluate("document.getElementById('detail').close()")
    browser.click(
        "[...document.querySelectorAll('#samples-table tbody tr')]"
        ".find(r => r.textContent.includes('evil') && r.cells[4].textContent === '1')"
        ".querySelector('button')"
    )
    detail = browser.evaluate("document.getElementById('detail-body').textContent")
    assert f"Sorry! {PAYLOAD} {IMG}" in detail and f"no main.py {PAYLOAD}" in detail

    # Nothing hostile ran, nothing was refused, nothing was fetched.
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('body img').length") == 0
    assert browser.evaluate("document.querySelectorAll('script:not([type])').length") == 1
    assert browser.console_errors() == []
    assert browser.requests() == [url]
    with capsys.disabled():
        print(f"\nleaderboard screenshots: {shot} {detail_shot}")


def test_comparison_page_in_headless_chromium(browser: DevTools, tmp_path: Path) -> None:
    results = write_results(tmp_path / "results")
    comparison = compare_command("run-alpha", "run-evil", results, html_out=tmp_path / "c.html")
    assert f"test_{SVG}" in [flip.name for flip in comparison.tests_broken]
    url = browser.open(tmp_path / "c.html")
    assert browser.evaluate("document.getElementById('verdict').textContent") == comparison.verdict
    text = browser.evaluate("document.body.textContent")
    assert f"test_{SVG}" in text and f"security/sqli{IMG} (critical)" in text
    assert EVIL_MODEL in text
    browser.click("document.querySelector('#tests-broken + .scroll th:nth-child(2)')")
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('body img, body svg').length") == 0
    assert browser.console_errors() == []
    assert browser.requests() == [url]
