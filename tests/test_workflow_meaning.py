"""The rule tables of `flowscope.workflow_meaning`: what workflow telemetry means, read once for
every reader (issue 11 item 1). Pure functions: no server needed."""

from __future__ import annotations

from typing import Any

import pytest

from flowscope import conventions as c
from flowscope import workflow_meaning as m

SERVER, INTERNAL = 2, 1
ERROR, OK, UNSET = c.STATUS_CODE_ERROR, c.STATUS_CODE_OK, c.STATUS_CODE_UNSET


@pytest.mark.parametrize(
    ("value", "text", "integer", "number", "flag"),
    [
        (None, None, None, None, False),
        ("", None, None, None, False),
        ("abc", "abc", None, None, False),
        ("42", "42", 42, None, False),  # a string of ASCII digits is the integer it spells
        ("²", "²", None, None, False),  # a digit to isdigit(), not to int()
        ("9" * 21, "9" * 21, None, None, False),  # longer than any count
        (7, "7", 7, 7.0, False),
        (2.5, "2.5", None, 2.5, False),
        (True, "True", None, None, True),  # a bool is no integer nor number
        ("true", "true", None, None, False),  # only the boolean true is a true flag
        ([1, 2], "[1, 2]", None, None, False),
    ],
)
def test_reading_values(value: Any, text: Any, integer: Any, number: Any, flag: bool) -> None:
    assert (m.text(value), m.integer(value), m.number(value), m.flag(value)) == (text, integer, number, flag)


def test_attribute_int_keeps_digit_strings_too_long_for_a_column() -> None:
    assert m.attribute_int("9" * 21) == "9" * 21
    assert m.attribute_int(-3) == -3


def test_string_list() -> None:
    assert m.string_list(["a", 2]) == ("a", "2")
    assert m.string_list("a") == ()
    assert m.string_list(None) == ()


@pytest.mark.parametrize(
    ("attrs", "kind", "has_parent", "role"),
    [
        ({c.STEP_ATTEMPT: 1, c.STEP_ID: "s"}, INTERNAL, True, m.ATTEMPT),  # the attempt marker wins
        ({c.STEP_ID: "s", c.WORKFLOW_ID: "w"}, INTERNAL, True, m.STEP),
        ({c.CICD_TASK_NAME: "build"}, INTERNAL, True, m.STEP),  # bare cicd.* task
        ({c.WORKFLOW_ID: "w"}, INTERNAL, False, m.EXECUTION),  # the trace root
        ({c.WORKFLOW_EXECUTION_ID: "e"}, INTERNAL, False, m.EXECUTION),
        ({c.CICD_PIPELINE_NAME: "ci"}, INTERNAL, False, m.EXECUTION),  # bare cicd.* pipeline
        ({c.WORKFLOW_ID: "w"}, SERVER, True, m.EXECUTION),  # a SERVER span continuing a remote parent
        ({c.WORKFLOW_ID: "w"}, INTERNAL, True, None),  # a child naming its workflow is no execution
        ({c.WORKFLOW_NAME: "n"}, INTERNAL, False, None),  # a name alone does not make one
        ({}, SERVER, False, None),
    ],
)
def test_span_role(attrs: dict[str, Any], kind: int, has_parent: bool, role: str | None) -> None:
    assert m.span_role(attrs, kind, has_parent) == role


def test_record_event() -> None:
    assert m.record_event("workflow.step.started", {c.EVENT_NAME: "other"}) == "workflow.step.started"
    assert m.record_event("", {c.EVENT_NAME: "workflow.step.started"}) == "workflow.step.started"
    assert m.record_event("", None) == ""


@pytest.mark.parametrize(
    ("attrs", "ids"),
    [
        ({c.WORKFLOW_ID: "w", c.CICD_PIPELINE_NAME: "ci", c.WORKFLOW_NAME: "W"}, ("w", "W", None, None)),
        ({c.CICD_PIPELINE_NAME: "ci", c.CICD_TASK_NAME: "t"}, ("ci", "ci", "t", "t")),  # cicd.* alone
        ({c.WORKFLOW_ID: "", c.CICD_PIPELINE_NAME: "ci"}, ("ci", "ci", None, None)),  # empty is absent
        ({c.WORKFLOW_ID: 7, c.STEP_ID: "s", c.STEP_NAME: "S"}, ("7", None, "s", "S")),  # values as text
        ({c.STEP_ID: "s", c.CICD_TASK_NAME: "t"}, (None, None, "s", "t")),
    ],
)
def test_ids_and_names(attrs: dict[str, Any], ids: tuple[Any, ...]) -> None:
    assert (m.workflow_id(attrs), m.workflow_name(attrs), m.step_id(attrs), m.step_name(attrs)) == ids


def test_execution_id_and_number() -> None:
    assert m.execution_id("abc", {c.WORKFLOW_EXECUTION_ID: "x"}) == "abc"  # the trace is the execution
    assert m.execution_id("", {c.WORKFLOW_EXECUTION_ID: "x"}) == "x"
    assert m.execution_id("", {}) is None
    assert m.execution_number({c.WORKFLOW_EXECUTION_NUMBER: "12"}) == 12
    assert m.execution_number({}) is None


@pytest.mark.parametrize(
    ("workflow_status", "result", "code", "status"),
    [
        ("timeout", "failure", ERROR, "timeout"),  # workflow.status wins
        ("cancelled", None, OK, "cancelled"),
        ("running", "success", ERROR, "completed"),  # not a final status: the cicd.* result
        (None, "failure", OK, "failed"),
        (None, "error", OK, "failed"),
        (None, "timeout", OK, "timeout"),
        (None, "cancellation", OK, "cancelled"),
        (None, "success", ERROR, "completed"),
        (None, "nonsense", ERROR, "failed"),  # else the span status
        (None, None, UNSET, "completed"),
        (["completed"], None, OK, "completed"),  # not text: ignored
    ],
)
def test_execution_status(workflow_status: Any, result: Any, code: int, status: str) -> None:
    attrs = {k: v for k, v in ((c.WORKFLOW_STATUS, workflow_status), (c.CICD_PIPELINE_RESULT, result)) if v}
    assert m.execution_status(attrs, code) == status
    assert m.span_status(m.EXECUTION, attrs, code) == status


@pytest.mark.parametrize(
    ("step_status", "result", "code", "status"),
    [
        ("skipped", "failure", ERROR, "skipped"),  # workflow.step.status wins
        ("cancelled", None, OK, "cancelled"),
        ("running", "failure", OK, "failed"),  # a span ends: running/pending are no final status
        ("pending", None, ERROR, "failed"),
        (None, "success", ERROR, "completed"),
        (None, "failure", OK, "failed"),
        (None, "error", OK, "failed"),
        (None, "timeout", OK, "failed"),  # a step has no timeout status
        (None, "cancellation", OK, "cancelled"),
        (None, "skip", OK, "skipped"),
        (None, None, ERROR, "failed"),
        (None, None, OK, "completed"),
    ],
)
def test_step_status(step_status: Any, result: Any, code: int, status: str) -> None:
    attrs = {k: v for k, v in ((c.STEP_STATUS, step_status), (c.CICD_TASK_RUN_RESULT, result)) if v}
    assert m.step_status(attrs, code) == status
    assert m.span_status(m.STEP, attrs, code) == status


def test_attempt_status_and_error_are_its_span_status() -> None:
    assert m.span_status(m.ATTEMPT, {c.STEP_STATUS: "skipped"}, ERROR) == "failed"
    assert m.span_status(m.ATTEMPT, {}, UNSET) == "completed"
    assert m.attempt_error("failed", "boom") == "boom"
    assert m.attempt_error("failed", "") is None
    assert m.attempt_error("completed", "boom") is None
    assert m.span_error(m.ATTEMPT, "failed", {}, "boom") is None  # read from its status (attempt_error)


def test_every_final_status_has_a_vocabulary_entry() -> None:
    assert set(m.STATUS_BY_PIPELINE_RESULT.values()) <= c.TERMINAL_EXECUTION_STATUSES
    assert set(m.STEP_STATUS_BY_TASK_RESULT.values()) <= m.FINAL_STEP_STATUSES <= set(c.STEP_STATUSES)
    # what the engine emits reads back as what it meant
    for status, result in c.PIPELINE_RESULT_BY_STATUS.items():
        assert m.execution_status({c.CICD_PIPELINE_RESULT: result}, OK) == status
    for status, result in c.TASK_RESULT_BY_STEP_STATUS.items():
        expected = status if status in m.FINAL_STEP_STATUSES else "failed"
        assert m.step_status({c.CICD_TASK_RUN_RESULT: result}, OK) == expected


@pytest.mark.parametrize(
    ("status", "start", "end", "never_ran"),
    [
        ("skipped", 5, 9, True),
        ("cancelled", 5, 5, True),  # cancelled before it ran: a zero-length span
        ("cancelled", 5, 9, False),
        ("cancelled", 5, None, False),  # announced, not ended
        ("completed", 5, 5, False),
        ("failed", 5, 5, False),
    ],
)
def test_step_never_ran(status: str, start: int, end: int | None, never_ran: bool) -> None:
    assert m.step_never_ran(status, start, end) is never_ran


def test_lifecycle_announces_pending_then_running_and_ranks_never_go_back() -> None:
    assert m.announced_status(c.EVENT_EXECUTION_QUEUED) == "pending"
    assert m.announced_status(c.EVENT_EXECUTION_STARTED) == "running"
    assert m.announced_status(c.EVENT_STEP_STARTED) is None
    ranks = [m.status_rank(s) for s in c.EXECUTION_STATUSES]
    assert ranks == [1, 2, 3, 3, 3, 3, 2]  # unknown: running unheard of, not ended


@pytest.mark.parametrize(
    ("queued", "started", "span_start", "status", "ended", "history"),
    [
        (1, 2, 3, "completed", 9, [("pending", 1, "log"), ("running", 2, "log"), ("completed", 9, "span")]),
        (None, None, 3, "failed", 9, [("running", 3, "span"), ("failed", 9, "span")]),  # spans only
        (1, None, None, "cancelled", 4, [("pending", 1, "log"), ("cancelled", 4, "span")]),  # never ran
        (1, None, None, "pending", None, [("pending", 1, "log")]),
        (None, 2, None, "running", None, [("running", 2, "log")]),
    ],
)
def test_status_history(
    queued: Any, started: Any, span_start: Any, status: str, ended: Any, history: list[Any]
) -> None:
    assert m.status_history(queued, started, span_start, status, ended) == history


@pytest.mark.parametrize(
    ("execution", "announced", "unseen"),
    [
        ("pending", ("running", None), "pending"),
        ("running", ("running", None), "pending"),
        ("completed", ("failed", "step did not finish: the execution ended (completed) first"), None),
        ("failed", ("failed", "step did not finish: the execution ended (failed) first"), None),
        ("timeout", ("failed", "step did not finish: the execution ended (timeout) first"), None),
        ("cancelled", ("cancelled", "step did not finish: the execution ended (cancelled) first"), None),
    ],
)
def test_steps_known_before_their_spans(execution: str, announced: Any, unseen: Any) -> None:
    assert m.announced_step(execution) == announced
    assert m.unseen_step_status(execution) == unseen


def test_retry_count_and_attempt_number() -> None:
    assert m.retry_count({c.STEP_RETRY_COUNT: 2}) == 2
    assert m.retry_count({c.STEP_RETRY_COUNT: "2"}) == 2
    assert m.retry_count({c.STEP_RETRY_COUNT: True}) == 0
    assert m.retry_count({}) == 0
    assert m.attempt_number({c.STEP_ATTEMPT: 4}, 1) == 4
    assert m.attempt_number({}, 1) == 2  # the one after the retries so far


def test_new_retry_counts_each_announced_retry_once() -> None:
    seen: set[int] = set()
    assert m.new_retry(seen, {c.STEP_RETRY_COUNT: 1}) == 1
    assert m.new_retry(seen, {c.STEP_RETRY_COUNT: 1}) is None  # sent twice: counted once
    assert m.new_retry(seen, {c.STEP_ATTEMPT: 3}) == 2  # the third attempt is the second retry
    assert m.new_retry(seen, {c.STEP_RETRY_COUNT: 0, c.STEP_ATTEMPT: 1}) == 3  # says nothing: the next
    assert m.new_retry(seen, {}) == 4
    assert seen == {1, 2, 3, 4}


def test_retry_error() -> None:
    assert m.retry_error({c.STEP_ERROR: "HTTP 503"}, "body") == "HTTP 503"
    assert m.retry_error({}, "body") == "body"
    assert m.retry_error({}, "") is None


def test_span_error_by_role() -> None:
    attrs = {c.WORKFLOW_ERROR: "run failed", c.STEP_ERROR: "step failed"}
    assert m.span_error(m.EXECUTION, "failed", attrs, "") == "run failed"
    assert m.span_error(m.STEP, "failed", attrs, "") == "step failed"


@pytest.mark.parametrize(
    ("status", "explicit", "message", "exception", "error_type", "result", "expected"),
    [
        ("failed", "disk full", "status text", "exc", "E", "failure", "disk full"),  # the emitter's own
        ("completed", "kept anyway", "", None, None, None, "kept anyway"),  # whatever the status
        ("completed", None, "status text", "exc", "E", "success", None),  # no fallbacks when it succeeded
        ("failed", None, "status text", "exc", "E", "failure", "status text"),
        ("failed", "", "", "exc", "E", "failure", "exc"),  # empty texts count as none
        ("timeout", None, "", None, "TimeoutError", "timeout", "TimeoutError"),
        ("failed", None, "", None, None, "failure", "failure"),
        ("cancelled", None, "", None, None, "cancellation", None),  # a cancellation is no error of its own
        ("cancelled", None, "stopped by user", None, None, None, "stopped by user"),
        ("skipped", None, "", "exc", None, "skip", None),
        ("failed", None, "", None, None, None, None),
        ("failed", 42, "", None, None, None, "42"),  # non-string attribute values as text
    ],
)
def test_rule(
    status: str, explicit: Any, message: str, exception: Any, error_type: Any, result: Any, expected: Any
) -> None:
    assert m.error_message(status, explicit, message, exception, error_type, result) == expected


def test_exception_text_is_the_last_exception_events_type_and_message() -> None:
    events = [
        ("exception", {c.EXCEPTION_MESSAGE: "first", c.EXCEPTION_TYPE: "ValueError"}),
        ("log", {c.EXCEPTION_MESSAGE: "not an exception event"}),
        ("exception", {c.EXCEPTION_TYPE: "KeyError"}),  # no message: its type
    ]
    assert m.exception_text(events) == "KeyError"
    assert m.exception_text(events[:2]) == "ValueError: first"
    assert m.exception_text([("exception", {c.EXCEPTION_MESSAGE: "no type"})]) == "no type"
    assert m.exception_text([]) is None
