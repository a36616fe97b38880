// Home: every workflow of the workspace (catalogued or traced by another system) with its
// last status, what runs now, success rate and p50/p95 over a chosen window, and a trend.
import { useEffect, useMemo, useState } from "preact/hooks";
import { get, query } from "../api";
import { Chart } from "../charts/echarts";
import { trendOption } from "../charts/small";
import { Card, Empty, ErrorBox, Loading } from "../components/Messages";
import { StatusBadge } from "../components/Status";
import { ago, count, percent, seconds } from "../format";
import { useData, useTicker } from "../hooks";
import { Link, paths } from "../router";
import type { Overview, WorkflowSummary } from "../types";

export const WINDOWS: { key: string; label: string; hours: number | null }[] = [
  { key: "24h", label: "last 24 hours", hours: 24 },
  { key: "7d", label: "last 7 days", hours: 24 * 7 },
  { key: "30d", label: "last 30 days", hours: 24 * 30 },
  { key: "all", label: "all time", hours: null },
];

export function sinceOf(key: string): string | null {
  const w = WINDOWS.find((x) => x.key === key);
  return w?.hours ? new Date(Date.now() - w.hours * 3600_000).toISOString() : null;
}

export function WindowPicker({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <label class="inline-field">
      Window{" "}
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {WINDOWS.map((w) => (
          <option value={w.key}>{w.label}</option>
        ))}
      </select>
    </label>
  );
}

function Row({ wf, now }: { wf: WorkflowSummary; now: number }) {
  const trend = useMemo(() => trendOption(wf.executions_per_day), [wf.executions_per_day]);
  const total = wf.executions_per_day.reduce((n, d) => n + d.executions, 0);
  return (
    <tr data-workflow-id={wf.workflow_id}>
      <td class="wf-name">
        <Link to={paths.workflow(wf.workflow_id)} class="strong">
          {wf.name}
        </Link>
        {!wf.catalogued && (
          <span class="tag" title="Not in the catalog: seen in telemetry from another tracer">
            traced{wf.service_name ? ` by ${wf.service_name}` : ""}
          </span>
        )}
        {wf.description && <div class="muted small clamp">{wf.description}</div>}
      </td>
      <td>
        {wf.last_execution_id ? (
          <Link to={paths.execution(wf.last_execution_id)} title="Open the newest execution">
            <StatusBadge status={wf.last_status} />
          </Link>
        ) : (
          <span class="muted">no runs</span>
        )}
        <div class="muted small">{ago(wf.last_execution_at, now)}</div>
      </td>
      <td class="num">
        {wf.running_executions > 0 ? <strong class="live-count">▶ {wf.running_executions} running</strong> : <span class="muted">0</span>}
        {wf.pending_executions > 0 && <div class="muted small">… {wf.pending_executions} queued</div>}
      </td>
      <td class="num">
        {wf.total_executions ? percent(wf.success_rate) : "–"}
        <div class="muted small">{count(wf.total_executions)} finished</div>
      </td>
      <td class="num">{seconds(wf.p50_duration_seconds)}</td>
      <td class="num">{seconds(wf.p95_duration_seconds)}</td>
      <td class="trend-cell" title={`${total} executions in ${wf.executions_per_day.length} days`}>
        <Chart option={trend} height={34} class="sparkline" label={`executions per day: ${total} in ${wf.executions_per_day.length} days`} />
      </td>
    </tr>
  );
}

export function Home() {
  const [win, setWin] = useState("7d");
  const data = useData(() => get<Overview>(`/api/overview${query({ since: sinceOf(win), days: 14 })}`), [win]);
  const now = useTicker(5000);
  // Counts of running executions change without any click: refresh every few seconds
  // while the tab is visible (a background tab costs the server nothing).
  useEffect(() => {
    const id = window.setInterval(() => document.hidden || data.reload(), 5000);
    const onVisible = () => document.hidden || data.reload();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(id);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [data.reload]);
  const workflows = data.data?.workflows ?? [];
  const running = workflows.reduce((n, w) => n + w.running_executions, 0);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Workflows</h1>
          <div class="muted">
            {count(workflows.length)} workflows · {running > 0 ? `${running} running now` : "none running"}
          </div>
        </div>
        <WindowPicker value={win} onChange={setWin} />
      </div>
      <ErrorBox error={data.error} what="the workflows" />
      {data.loading && !data.data && <Loading what="workflows" />}
      {data.data && workflows.length === 0 && (
        <Empty>
          No workflows yet. Create one with <code>POST /api/workflows</code>, run <code>flowscope serve --demo</code>, or send
          OTLP traces that follow the workflow conventions.
        </Empty>
      )}
      {workflows.length > 0 && (
        <Card>
          <table class="table workflows-table">
            <thead>
              <tr>
                <th>Workflow</th>
                <th>Last run</th>
                <th class="num">Running now</th>
                <th class="num">Success rate</th>
                <th class="num">p50</th>
                <th class="num">p95</th>
                <th>Executions per day (14 d)</th>
              </tr>
            </thead>
            <tbody>
              {workflows.map((wf) => (
                <Row key={wf.workflow_id} wf={wf} now={now} />
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  );
}
