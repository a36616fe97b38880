"""A real, unmodified Jaeger UI (v2.19.0, built from jaegertracing/jaeger-ui; see
tests/support/jaeger-ui-2.19.0/README.md) against a real `flowscope serve --demo`.

What the UI asks for, from its sources (jaegertracing/jaeger-ui@v2.19.0, packages/jaeger-ui/src):
- search: `api/v3/client.ts` — `GET /api/v3/services`, `/api/v3/operations?service=`, and
  `/api/v3/trace-summaries` with `query.serviceName`, `query.startTimeMin/Max` (RFC 3339),
  `query.searchDepth`, `query.durationMin/Max` (as typed: "12.5ms") and `query.attributes`
  (the tags' logfmt as a JSON object of strings, `convTagsLogfmt` in
  components/SearchTracePage/SearchForm.tsx);
- a trace: `api/jaeger.ts` `fetchTrace` — `GET /api/traces/{id}` (the v1 API);
- Monitor: `actions/jaeger-api.ts` `fetchAllServiceMetrics` / `fetchAggregatedServiceMetrics`
  and `api/jaeger.ts` `fetchMetrics` — `GET /api/metrics/{latencies,calls,errors}` with
  `service`, `quantile`, `endTs`, `lookback`, `step`, `ratePer`, `spanKind` and, for the
  operations table, `groupByOperation=true` (components/Monitor/ServicesView/index.tsx).

The expected traces come from the v1 API over the same store (conftest `traces`). Duration
filters follow Jaeger's rule: a trace matches when one of its spans lies within the bounds,
inclusive (jaegertracing/jaeger@v2.19.0, internal/storage/v2/memory/tenant.go `validTrace`,
`validSpan`)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.jaeger_ui.conftest import FAILING_RUN, SERVICE, Trace
from tests.ui.browser import Tab

RESULT_LINKS = ".ResultItem .ResultItemTitle a[href*='/trace/']"


def _pick(page: Page, select: str, option: str) -> None:
    """Choose `option` in the antd select `select` (a CSS selector), as a user clicks it."""
    page.locator(select).click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=option).first.click()


def _search(page: Page, *, tags: str = "", min_duration: str = "", max_duration: str = "") -> set[str]:
    """Fill the search form for flowscope-engine and submit it; the trace ids listed."""
    if page.locator("[data-testid=service]").inner_text().strip() != SERVICE:
        _pick(page, "[data-testid=service]", SERVICE)
    page.locator("input[name=tags]").fill(tags)
    page.locator("input[name=minDuration]").fill(min_duration)
    page.locator("input[name=maxDuration]").fill(max_duration)
    with page.expect_response(lambda r: "/api/v3/trace-summaries?" in r.url) as response:
        page.get_by_role("button", name="Find Traces").click()
    answer = response.value
    assert answer.ok, f"{answer.url}: {answer.status} {answer.text()}"
    # Wait until the page lists what this answer holds (the previous results may still show).
    returned = [s["traceId"] for s in answer.json()["summaries"]]
    links = page.locator(RESULT_LINKS)
    if not returned:
        expect(page.locator("[data-test=no-results]")).to_be_visible()
    expect(links).to_have_count(len(returned))
    for trace_id in returned:
        expect(page.locator(f"{RESULT_LINKS}[href$='/trace/{trace_id}']")).to_have_count(1)
    hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return {h.rsplit("/trace/", 1)[1] for h in hrefs}


def _result(page: Page, trace: Trace) -> Locator:
    return page.locator(".ResultItem", has=page.locator(f"a[href$='/trace/{trace.trace_id}']"))


def _ms(us: float) -> str:
    return f"{us / 1000:.3f}ms"  # the form's format: a number and a unit (validateDurationFields)


def _ids(traces: list[Trace]) -> set[str]:
    return {t.trace_id for t in traces}


def test_search_lists_the_service_and_finds_every_trace(tab: Tab, traces: dict[str, Trace]) -> None:
    page = tab.open("/search")
    page.locator("[data-testid=service]").click()
    options = page.locator(".ant-select-dropdown:visible .ant-select-item-option")
    expect(options).to_have_text([SERVICE])
    options.first.click()
    # The operations are the spans' names (the list is virtual: type to find one).
    page.locator("[data-testid=operation]").click()
    for name in ("RUN Data Pipeline", "Validate Source"):
        page.keyboard.type(name)
        expect(options.filter(has_text=name)).to_have_count(1)
        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")
    page.keyboard.press("Escape")

    assert _search(page) == _ids(list(traces.values()))
    for trace in traces.values():  # each listed as "<service>: <root operation>" with its span count
        item = _result(page, trace)
        expect(item.locator(".ResultItemTitle--title")).to_contain_text(f"{SERVICE}: {trace.root}")
        expect(item.locator("[data-testid=num-spans]")).to_have_text(f"{len(trace.span_names)} Spans")
    expect(_result(page, traces[FAILING_RUN])).to_contain_text("Error")  # its error spans counted


def test_tag_search_narrows_to_one_workflow(tab: Tab, traces: dict[str, Trace]) -> None:
    page = tab.open("/search")
    assert _search(page, tags='workflow.name="Data Pipeline"') == _ids([traces["RUN Data Pipeline"]])
    assert _search(page, tags="workflow.status=failed") == _ids([traces[FAILING_RUN]])
    assert _search(page, tags='workflow.name="Data Pipeline" workflow.status=failed') == set()


def test_duration_search_narrows_the_traces(tab: Tab, traces: dict[str, Trace]) -> None:
    longest, second, third, *_ = sorted(traces.values(), key=lambda t: -t.duration_us)
    assert longest.duration_us > second.duration_us > third.duration_us
    low = (second.duration_us + third.duration_us) / 2
    high = (longest.duration_us + second.duration_us) / 2
    page = tab.open("/search")

    assert _search(page, min_duration=_ms(high)) == _ids([longest])
    # Within bounds: every trace with a span in [low, high], the second longest's root at least.
    within = [t for t in traces.values() if any(low <= d <= high for d in t.span_durations_us)]
    assert second in within and third not in within
    assert _search(page, min_duration=_ms(low), max_duration=_ms(high)) == _ids(within)


def test_a_trace_opens_with_its_spans(tab: Tab, traces: dict[str, Trace]) -> None:
    trace = traces["RUN Data Pipeline"]
    page = tab.open("/search")
    _search(page)
    page.locator(".ResultItemTitle--title", has_text=trace.root).click()
    expect(page).to_have_url(re.compile(f"/trace/{trace.trace_id}$"))
    header = page.locator(".TracePageHeader")
    expect(header).to_contain_text(f"{SERVICE}: {trace.root}")
    expect(header).to_contain_text(f"Total Spans{len(trace.span_names)}")
    # One timeline row per span (parents before children), each naming its service.
    rows = page.locator(".span-name .endpoint-name")
    expect(rows).to_have_count(len(trace.span_names))
    assert sorted(rows.all_inner_texts()) == sorted(trace.span_names)
    expect(page.locator(".span-name .span-svc-name").first).to_have_text(SERVICE)


def _operation(page: Page, name: str) -> tuple[str, str, str]:
    """The operations table's figures for `name`: latency, request rate, error rate. Found
    with the table's search box, as it pages at 20 operations."""
    page.locator(".select-operation-input input").fill(name)
    row = page.locator(".ant-table-row", has=page.get_by_text(name, exact=True))
    expect(row).to_have_count(1)
    figures = row.locator(".table-graph-avg")
    expect(figures).to_have_count(3)
    latency, calls, errors = (text.strip() for text in figures.all_inner_texts())
    return latency, calls, errors


NO_ERRORS = "< 0.1%"  # how the table shows a zero rate (formatValue in operationDetailsTable)
LATENCY = re.compile(r"^\d+(\.\d+)?(μs|ms|s)$")


def test_monitor_shows_latency_calls_and_errors(tab: Tab, traces: dict[str, Trace]) -> None:
    page = tab.open("/monitor")
    expect(page.locator(".select-a-service-input")).to_contain_text(SERVICE)
    graphs = page.locator(".graph-container")
    expect(graphs).to_have_count(3)
    for title in ("Latency", "Error rate (%)", "Request rate (req/s)"):
        graph = graphs.filter(has=page.locator(".graph-header", has_text=title))
        expect(graph.locator(".recharts-area").first).to_be_attached()  # a plotted series
        expect(graph).not_to_contain_text("No Data")
        expect(graph).not_to_contain_text("Could not fetch data")
    expect(page.get_by_text("No data yet!")).to_have_count(0)

    # Server spans (the default kind): one operation per workflow run; only the failed one errs.
    for run in traces:
        latency, calls, errors = _operation(page, run)
        assert LATENCY.match(latency) and calls.endswith("req/s"), (run, latency, calls)
        assert (errors != NO_ERRORS) == (run == FAILING_RUN), (run, errors)

    # Internal spans: the steps, each with its latency, call rate and error rate.
    _pick(page, ".span-kind-selector", "Internal")
    for step_name, fails in (("Break", True), ("Fetch", False), ("Validate Source", False)):
        latency, calls, errors = _operation(page, step_name)
        assert LATENCY.match(latency) and calls.endswith("req/s"), (step_name, latency, calls)
        assert (errors != NO_ERRORS) == fails, (step_name, errors)
