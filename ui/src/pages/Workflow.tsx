// A workflow: its executions (filter, pages, live), durations over time with the p95,
// per-step statistics, and a Run button (editors) with a form from the definition.
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, enc, get, query } from "../api";
import { Chart } from "../charts/echarts";
import { durationOption } from "../charts/small";
import { CallerContext } from "../context";
import { Card, Empty, ErrorBox, Loading } from "../components/Messages";
import { StatusBadge } from "../components/Status";
import { ago, count, percent, seconds, shortId, time } from "../format";
import { useData, useThrottled, useTicker } from "../hooks";
import { type FeedState, openFeed } from "../live";
import { Link, navigate, paths } from "../router";
import { canWrite } from "../session";
import type { Durations, Execution, Metrics, Page, StepMetrics, Workflow as WorkflowT } from "../types";
import { sinceOf, WindowPicker } from "./Home";
import { RunForm } from "./RunForm";

const PAGE_SIZE = 25;
const STATUSES = ["", "running", "pending", "completed", "failed", "cancelled", "timeout", "unknown"];

export function LiveDot({ state }: { state: FeedState }) {
  const text = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", closed: "not live" }[state];
  return (
    <span class={`live-dot live-${state}`} title="Live updates over the WebSocket feed">
      <span aria-hidden="true">●</span> {text}
    </span>
  );
}

function Executions({ workflowId, bump }: { workflowId: string; bump: number }) {
  const [status, setStatus] = useState("");
  const [skip, setSkip] = useState(0);
  const seen = useRef<Set<string> | null>(null);
  const list = useData(
    () => get<Page<Execution>>(`/api/workflows/${enc(workflowId)}/executions${query({ skip, limit: PAGE_SIZE, status })}`),
    [workflowId, status, skip],
  );
  useEffect(() => {
    if (bump) list.reload();
  }, [bump]);
  const now = useTicker(5000);
  const items = list.data?.items ?? [];
  const previous = seen.current;
  useEffect(() => {
    seen.current = new Set(items.map((i) => i.id));
  }, [items]);
  const total = list.data?.total ?? 0;
  return (
    <Card
      id="executions"
      title="Executions"
      actions={
        <label class="inline-field">
          Status{" "}
          <select
            name="status"
            value={status}
            onChange={(e) => {
              setStatus((e.target as HTMLSelectElement).value);
              setSkip(0);
            }}
          >
            {STATUSES.map((s) => (
              <option value={s}>{s || "any"}</option>
            ))}
          </select>
        </label>
      }
    >
      <ErrorBox error={list.error} what="the executions" />
      {list.loading && !list.data && <Loading what="executions" />}
      {list.data && items.length === 0 && <Empty>No executions{status ? ` with status ${status}` : ""}.</Empty>}
      {items.length > 0 && (
        <table class="table executions-table">
          <thead>
            <tr>
              <th>Execution</th>
              <th>Status</th>
              <th>Started</th>
              <th class="num">Duration</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {items.map((x) => (
              <tr key={x.id} data-execution-id={x.id} class={previous && !previous.has(x.id) ? "new-row" : ""}>
                <td>
                  <Link to={paths.execution(x.id)} class="strong">
                    {x.execution_number !== null ? `#${x.execution_number}` : shortId(x.id)}
                  </Link>{" "}
                  <span class="muted mono small">{shortId(x.id)}</span>
                </td>
                <td>
                  <StatusBadge status={x.status} />
                </td>
                <td title={time(x.started_at ?? x.created_at)}>{ago(x.started_at ?? x.created_at, now)}</td>
                <td class="num">{x.status === "running" && x.started_at ? seconds((now - Date.parse(x.started_at)) / 1000) + "…" : seconds(x.duration)}</td>
                <td class="error-cell">{x.error_message ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {total > 0 && (
        <div class="pager">
          <button type="button" class="button" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE_SIZE))}>
            ← Newer
          </button>
          <span class="muted" data-testid="page-range">
            {count(Math.min(skip + 1, total))}–{count(Math.min(skip + PAGE_SIZE, total))} of {count(total)}
          </span>
          <button type="button" class="button" disabled={skip + PAGE_SIZE >= total} onClick={() => setSkip(skip + PAGE_SIZE)}>
            Older →
          </button>
        </div>
      )}
    </Card>
  );
}

function StepTable({ steps }: { steps: StepMetrics[] }) {
  if (steps.length === 0) return <Empty>No step runs in this window.</Empty>;
  return (
    <table class="table">
      <thead>
        <tr>
          <th>Step</th>
          <th class="num">Runs</th>
          <th class="num">Failure rate</th>
          <th class="num">Retries</th>
          <th class="num">p50</th>
          <th class="num">p95</th>
          <th>Share of time</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((s) => (
          <tr key={s.step_id}>
            <td>
              <span class="strong">{s.step_name}</span> <span class="muted mono small">{s.step_id}</span>
            </td>
            <td class="num">
              {count(s.runs)}
              {s.skipped > 0 && <div class="muted small">{count(s.skipped)} skipped</div>}
            </td>
            <td class={`num ${s.failure_rate > 0 ? "bad" : ""}`}>{percent(s.failure_rate)}</td>
            <td class="num">
              {count(s.retries)}
              {s.runs_with_retries > 0 && <div class="muted small">in {count(s.runs_with_retries)} runs</div>}
            </td>
            <td class="num">{seconds(s.p50_duration_seconds)}</td>
            <td class="num">{seconds(s.p95_duration_seconds)}</td>
            <td>
              <div class="share" title={percent(s.share_of_execution_time)}>
                <div class="share-bar" style={{ width: `${Math.min(100, s.share_of_execution_time ?? 0)}%` }} />
                <span>{percent(s.share_of_execution_time)}</span>
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Workflow({ workflowId }: { workflowId: string }) {
  const caller = useContext(CallerContext);
  const [win, setWin] = useState("7d");
  const [running, setRunning] = useState(false);
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [bump, setBump] = useState(0);
  const since = sinceOf(win);
  const wf = useData(async () => {
    try {
      return await get<WorkflowT>(`/api/workflows/${enc(workflowId)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null; // traced by another system: not catalogued
      throw err;
    }
  }, [workflowId]);
  const metrics = useData(() => get<Metrics>(`/api/workflows/${enc(workflowId)}/metrics${query({ since })}`), [workflowId, win]);
  const durations = useData(() => get<Durations>(`/api/workflows/${enc(workflowId)}/durations${query({ since, limit: 500 })}`), [workflowId, win]);
  const steps = useData(() => get<{ steps: StepMetrics[] }>(`/api/workflows/${enc(workflowId)}/steps/metrics${query({ since })}`), [workflowId, win]);
  const refreshList = useThrottled(() => setBump((b) => b + 1), 400);
  const refreshStats = useThrottled(() => {
    metrics.reload();
    durations.reload();
    steps.reload();
  }, 2000);
  useEffect(
    () =>
      openFeed(
        workflowId,
        (ev) => {
          if (!ev.event.startsWith("workflow_")) return;
          refreshList();
          if (ev.event !== "workflow_started") refreshStats();
        },
        setFeed,
      ),
    [workflowId],
  );
  const name = wf.data?.name ?? workflowId;
  const m = metrics.data;
  const option = useMemo(() => (durations.data ? durationOption(durations.data, m?.p95_duration_seconds ?? null) : null), [durations.data, m]);
  const onPoint = (p: { data?: unknown }) => {
    const point = (p.data as { point?: { execution_id: string } } | undefined)?.point;
    if (point) navigate(paths.execution(point.execution_id));
  };
  const writable = canWrite(caller) && wf.data;
  return (
    <div class="page">
      <div class="crumbs">
        <Link to={paths.home()}>Workflows</Link> <span aria-hidden="true">›</span> <span>{name}</span>
      </div>
      <div class="page-head">
        <div>
          <h1>{name}</h1>
          <div class="muted">
            {wf.data ? (
              <>
                version {wf.data.version} · {wf.data.step_count} steps · <span class="mono">{workflowId}</span>
              </>
            ) : wf.loading ? (
              "…"
            ) : (
              <>
                not in the catalog (traced by another system) · <span class="mono">{workflowId}</span>
              </>
            )}{" "}
            · <LiveDot state={feed} />
          </div>
          {wf.data?.description && <p class="description">{wf.data.description}</p>}
        </div>
        <div class="head-actions">
          <WindowPicker value={win} onChange={setWin} />
          {writable && (
            <button type="button" class="button primary" onClick={() => setRunning(true)} data-action="run">
              ▶ Run
            </button>
          )}
        </div>
      </div>
      <ErrorBox error={wf.error} what="the workflow" />
      {running && wf.data && <RunForm workflow={wf.data} onClose={() => setRunning(false)} />}
      <div class="stats">
        <Stat label="Success rate" value={m && m.total_executions ? percent(m.success_rate) : "–"} sub={m ? `${count(m.successful_executions)} of ${count(m.total_executions)} finished` : ""} />
        <Stat label="p50 duration" value={seconds(m?.p50_duration_seconds)} sub={m ? `mean ${seconds(m.average_duration_seconds)}` : ""} />
        <Stat label="p95 duration" value={seconds(m?.p95_duration_seconds)} />
        <Stat label="Failed" value={m ? count(m.failed_executions) : "–"} sub={m ? `${count(m.cancelled_executions)} cancelled` : ""} />
        <Stat label="Running now" value={m ? count(m.running_executions) : "–"} sub={m ? `${count(m.pending_executions)} queued` : ""} />
      </div>
      <ErrorBox error={metrics.error} what="the metrics" />
      <Card
        title="Duration over time"
        actions={
          durations.data && (
            <span class="muted small">
              {durations.data.points.length < durations.data.total
                ? `newest ${count(durations.data.points.length)} of ${count(durations.data.total)} finished`
                : `${count(durations.data.total)} finished`}
            </span>
          )
        }
      >
        <ErrorBox error={durations.error} what="the durations" />
        {option && durations.data && durations.data.points.length > 0 ? (
          <Chart option={option} height={260} onClick={onPoint} notMerge label="duration of each finished execution over time, with the p95" />
        ) : (
          durations.data && <Empty>No finished executions in this window.</Empty>
        )}
      </Card>
      <Executions workflowId={workflowId} bump={bump} />
      <Card title="Steps">
        <ErrorBox error={steps.error} what="the step statistics" />
        {steps.data && <StepTable steps={steps.data.steps} />}
      </Card>
    </div>
  );
}

function Stat({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="muted small">{sub}</div>}
    </div>
  );
}
