"""The names of what a run folder holds: the one place they are spelled.

results/<run_id>/
    run.json                        RUN_FILE (the run record)
    results.jsonl                   RESULTS_FILE (one row per sample x database)
    results.before-regrade-*.jsonl  regrade_backup(stamp)
    samples/<task>/<sample>/        sample_folder(root, task, sample)
        prompt.json                 PROMPT_FILE
        response.md                 RESPONSE_TEXT_FILE
        response.json               RESPONSE_FILE (the response record; last written)
        workspace/                  WORKSPACE_DIR (a workspace agent's files)
        files/                      FILES_DIR (the extracted files graded)
        extraction.json             EXTRACTION_FILE
        transcript.jsonl            AGENT_TRANSCRIPT_FILE (a CLI agent's session, as streamed)
        session.json                AGENT_SESSION_FILE (its turns, tool calls, tokens, cost)
        <database>/                 one folder per database the sample was graded on
            result.json             RESULT_FILE (the row)
            coverage.json           COVERAGE_FILE
            app.log                 APP_LOG
            app-probed.log          PROBED_APP_LOG (the app rebooted for the probes)
            grade-<grader>.json     grade_file(grader)
            hidden-tests.json       test_report(HIDDEN_TESTS), and test_log's .log
            robustness-tests.json   test_report(ROBUSTNESS_TESTS), and test_log's .log
        feedback.md                 FEEDBACK_FILE (with --rounds: what the model is shown next)
        feedback/app.log            FEEDBACK_DIR, APP_LOG (the app booted for the smoke check)
        round-<k>/                  round_folder(sample_dir, k): round k >= 2, laid out
                                    like the sample folder (round 1 is the sample folder
                                    itself, so runs before --rounds load unchanged)
results/grades/<stamp>-<task>/      GRADES_DIR: `harness grade`'s folders
tasks/<id>/smoke.yaml               SMOKE_FILE: the task's public smoke check
"""

from __future__ import annotations

from pathlib import Path

RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
SAMPLES_DIR = "samples"
PROMPT_FILE = "prompt.json"
RESPONSE_TEXT_FILE = "response.md"
RESPONSE_FILE = "response.json"
WORKSPACE_DIR = "workspace"
FILES_DIR = "files"
EXTRACTION_FILE = "extraction.json"
AGENT_TRANSCRIPT_FILE = "transcript.jsonl"
AGENT_SESSION_FILE = "session.json"
RESULT_FILE = "result.json"
COVERAGE_FILE = "coverage.json"
APP_LOG = "app.log"
PROBED_APP_LOG = "app-probed.log"
GRADES_DIR = "grades"
FEEDBACK_FILE = "feedback.md"
FEEDBACK_DIR = "feedback"
ROUND_PREFIX = "round-"
SMOKE_FILE = "smoke.yaml"
# The stems of the hidden tests' reports (per-test outcomes, and pytest's output).
HIDDEN_TESTS = "hidden-tests"
ROBUSTNESS_TESTS = "robustness-tests"


def grade_file(grader: str) -> str:
    """One grader's output in a database folder."""
    return f"grade-{grader}.json"


def test_report(stem: str) -> str:
    return f"{stem}.json"


def test_log(stem: str) -> str:
    return f"{stem}.log"


def regrade_backup(stamp: str) -> str:
    """Where `harness regrade` keeps the rows it replaces."""
    return f"results.before-regrade-{stamp}.jsonl"


def sample_folder(root: Path, task_id: str, sample: int) -> Path:
    """A sample's folder in the run folder `root` (not created)."""
    return root / SAMPLES_DIR / task_id / str(sample)


def round_folder(sample_dir: Path, round_number: int) -> Path:
    """Where round `round_number` of a sample lives: the sample folder for round 1,
    `round-<k>/` inside it after."""
    return sample_dir if round_number <= 1 else sample_dir / f"{ROUND_PREFIX}{round_number}"
