// One execution: the Gantt of its steps (attempts, backoff, queue, critical path), live
// while it runs; status history, input and results; cancel (editors); the step panel.
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { enc, get, post, query } from "../api";
import { Chart } from "../charts/echarts";
import { ganttModel } from "../charts/gantt";
import { CallerContext } from "../context";
import { JsonView } from "../components/JsonView";
import { Card, ErrorBox, Loading } from "../components/Messages";
import { StatusBadge } from "../components/Status";
import { seconds, shortId, statusOf, TERMINAL, time } from "../format";
import { useData, useThrottled, useTicker } from "../hooks";
import { type FeedState, openFeed } from "../live";
import { Link, navigate, paths } from "../router";
import { canWrite } from "../session";
import type { Attempt, Execution as ExecutionT, ExecutionAttempts, ExecutionDetails, Page, Timeline, TimelineStep, TriggeredBy } from "../types";
import { StepPanel } from "./StepPanel";
import { LiveDot } from "./Workflow";

interface Loaded {
  timeline: Timeline;
  attempts: Map<string, Attempt[]>;
}

async function loadTimeline(id: string): Promise<Loaded> {
  const [timeline, attempts] = await Promise.all([
    get<Timeline>(`/api/workflows/executions/${enc(id)}/timeline`),
    get<ExecutionAttempts>(`/api/workflows/executions/${enc(id)}/attempts`),
  ]);
  return { timeline, attempts: new Map(attempts.steps.map((s) => [s.step_id, s.attempts])) };
}

function Legend() {
  return (
    <div class="gantt-legend" aria-label="legend">
      <span><i class="sw sw-run" /> attempt (colour = status; ✗ failed, #n = attempt number)</span>
      <span><i class="sw sw-queue" /> queued: ready, waiting to start</span>
      <span><i class="sw sw-backoff" /> retry backoff</span>
      <span><i class="sw sw-running" /> running now</span>
      <span><i class="sw sw-crit" /> ◆ critical path</span>
      <span>⊘ skipped · ■ cancelled · … pending</span>
    </div>
  );
}

const FIRST_ROWS = 200;

function StepRows({ steps, executionId, critical, selected }: { steps: TimelineStep[]; executionId: string; critical: Set<string>; selected?: string }) {
  // Hundreds of rows cost layout time on every update: the first ones, then all on request.
  const [all, setAll] = useState(false);
  const shown = all ? steps : steps.slice(0, FIRST_ROWS);
  return (
    <>
    <table class="table steps-table">
      <thead>
        <tr>
          <th>Step</th>
          <th>Status</th>
          <th class="num">Queued</th>
          <th class="num">Running</th>
          <th class="num">Backoff</th>
          <th class="num">Attempts</th>
          <th class="num">Duration</th>
          <th>Error / reason</th>
        </tr>
      </thead>
      <tbody>
        {shown.map((s) => (
          <tr key={s.step_id} data-step-id={s.step_id} class={s.step_id === selected ? "selected" : ""}>
            <td>
              {critical.has(s.step_id) && (
                <span class="crit" title="on the critical path">
                  ◆{" "}
                </span>
              )}
              <Link to={paths.step(executionId, s.step_id)} class="strong">
                {s.step_name}
              </Link>
              {(s.triggered ?? []).map((id) => (
                <Link key={id} to={paths.execution(id)} class="triggered" title="an execution this step started">
                  {" "}→ {shortId(id)}
                </Link>
              ))}
            </td>
            <td>
              <StatusBadge status={s.status} />
            </td>
            <td class="num">{seconds(s.queue_seconds)}</td>
            <td class="num">{seconds(s.run_seconds)}</td>
            <td class="num">{s.wait_seconds ? seconds(s.wait_seconds) : "–"}</td>
            <td class="num">{s.attempts || "–"}</td>
            <td class="num">{s.status === "skipped" ? "–" : seconds(s.duration_seconds)}</td>
            <td class="error-cell">{s.error_message ?? s.skip_reason ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {shown.length < steps.length && (
      <div class="pager">
        <button type="button" class="button" onClick={() => setAll(true)}>
          Show all {steps.length} steps
        </button>
      </div>
    )}
    </>
  );
}

function CompareWith({ workflowId, executionId }: { workflowId: string; executionId: string }) {
  const others = useData(() => get<Page<ExecutionT>>(`/api/workflows/${enc(workflowId)}/executions${query({ limit: 50 })}`), [workflowId]);
  const items = (others.data?.items ?? []).filter((x) => x.id !== executionId);
  if (items.length === 0) return null;
  return (
    <label class="inline-field">
      Compare with{" "}
      <select
        name="compare"
        value=""
        onChange={(e) => {
          const other = (e.target as HTMLSelectElement).value;
          if (other) navigate(paths.compare(other, executionId));
        }}
      >
        <option value="">choose…</option>
        {items.map((x) => (
          <option value={x.id}>
            {x.execution_number !== null ? `#${x.execution_number}` : shortId(x.id)} · {x.status} · {seconds(x.duration)}
          </option>
        ))}
      </select>
    </label>
  );
}

export function Execution({ executionId, stepId }: { executionId: string; stepId?: string }) {
  const caller = useContext(CallerContext);
  const tl = useData(() => loadTimeline(executionId), [executionId]);
  // Details (input, results, history) after the timeline: the Gantt comes first.
  const ready = tl.data !== null;
  const details = useData(
    () => (ready ? get<ExecutionDetails>(`/api/workflows/executions/${enc(executionId)}`) : Promise.resolve(null)),
    [executionId, ready],
  );
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [cancel, setCancel] = useState<{ busy: boolean; error: Error | null; sent: boolean }>({ busy: false, error: null, sent: false });
  const timeline = tl.data?.timeline;
  const workflowId = timeline?.workflow_id ?? details.data?.workflow_id;
  const finished = timeline ? TERMINAL.has(timeline.status) : false;
  const now = useTicker(500, !!timeline && !finished);
  const finishedRef = useRef(finished);
  finishedRef.current = finished;
  const refresh = useThrottled(tl.reload, 250);
  const refreshDetails = useThrottled(details.reload, 500);
  useEffect(() => {
    if (!workflowId) return;
    return openFeed(
      workflowId,
      (ev) => {
        if (ev.data.execution_id !== executionId) return;
        refresh();
        if (ev.event.startsWith("workflow_")) refreshDetails();
      },
      (state) => {
        setFeed(state);
        if (state === "live" && !finishedRef.current) {
          // Whatever was committed before the feed opened is in a fresh read.
          refresh();
          refreshDetails();
        }
      },
    );
  }, [workflowId, executionId]);
  const model = useMemo(
    // Date.now(), not the last tick: fresh data may end after the tick (bars would overrun "now").
    () => (tl.data ? ganttModel(tl.data.timeline, tl.data.attempts, Date.now(), stepId) : null),
    [tl.data, finished ? 0 : now, stepId],
  );
  const doCancel = async () => {
    setCancel({ busy: true, error: null, sent: false });
    try {
      await post(`/api/workflows/executions/${enc(executionId)}/cancel`);
      setCancel({ busy: false, error: null, sent: true });
      refresh();
    } catch (err) {
      setCancel({ busy: false, error: err as Error, sent: false });
    }
  };
  if (!timeline) {
    return (
      <div class="page">
        <ErrorBox error={tl.error} what="the execution" />
        {!tl.error && <Loading what="execution" />}
      </div>
    );
  }
  const critical = new Set(timeline.critical_path);
  const d = details.data;
  const title = `${timeline.workflow_name ?? timeline.workflow_id} ${timeline.execution_number !== null ? `#${timeline.execution_number}` : shortId(timeline.execution_id)}`;
  const open = timeline.status === "running" || timeline.status === "pending";
  const elapsed = timeline.total_duration_seconds ?? (timeline.started_at ? (Date.now() - Date.parse(timeline.started_at)) / 1000 : null);
  return (
    <div class={`page ${stepId ? "with-panel" : ""}`}>
      <div class="crumbs">
        <Link to={paths.home()}>Workflows</Link> <span aria-hidden="true">›</span>{" "}
        <Link to={paths.workflow(timeline.workflow_id)}>{timeline.workflow_name ?? timeline.workflow_id}</Link>{" "}
        <span aria-hidden="true">›</span> <span>{timeline.execution_number !== null ? `#${timeline.execution_number}` : shortId(timeline.execution_id)}</span>
      </div>
      <div class="page-head">
        <div>
          <h1>
            {title} <StatusBadge status={timeline.status} />
          </h1>
          <div class="muted">
            started {time(timeline.started_at ?? timeline.queued_at)} · {open ? "running for" : "took"} {seconds(elapsed)}
            {timeline.queue_seconds ? ` · queued ${seconds(timeline.queue_seconds)} first` : ""} · {timeline.step_count} steps:{" "}
            {timeline.completed_step_count} completed, {timeline.failed_step_count} failed, {timeline.skipped_step_count} skipped ·{" "}
            <span class="mono">{timeline.execution_id}</span> · <LiveDot state={feed} />
          </div>
          {timeline.triggered_by && <TriggeredByLine by={timeline.triggered_by} />}
        </div>
        <div class="head-actions">
          <CompareWith workflowId={timeline.workflow_id} executionId={executionId} />
          {canWrite(caller) && open && (
            <button type="button" class="button danger" disabled={cancel.busy || cancel.sent} onClick={doCancel} data-action="cancel">
              {cancel.sent ? "Cancelling…" : "■ Cancel"}
            </button>
          )}
        </div>
      </div>
      <ErrorBox error={cancel.error} title="Could not cancel" />
      {timeline.error_message && (
        <div class="error-box" role="alert">
          <strong>{statusOf(timeline.status).icon} {timeline.status}</strong>
          <span>{timeline.error_message}</span>
        </div>
      )}
      <ErrorBox error={tl.error} what="the latest timeline" />
      <Card title="Timeline" actions={<span class="muted small">hover a bar for details · click a step to open it · ctrl + wheel to zoom</span>}>
        {model && (
          <div id="gantt" data-segments={model.segments} data-rows={model.rows.length}>
            <Chart
              option={model.option}
              height={model.height}
              label="Gantt chart of the steps"
              mark="flowscope:gantt-rendered"
              onClick={(p) => {
                const row = p.componentType === "yAxis" ? model.rows.find((r) => r.label === (p as { value?: string }).value) : undefined;
                const seg = (p.data as { seg?: { step?: TimelineStep } } | undefined)?.seg;
                const step = row?.stepId ?? seg?.step?.step_id;
                if (step) navigate(paths.step(executionId, step));
              }}
            />
          </div>
        )}
        <Legend />
      </Card>
      <Card title="Steps">
        <StepRows steps={timeline.step_timeline} executionId={executionId} critical={critical} selected={stepId} />
      </Card>
      <div class="grid-2">
        <Card title="Input">
          <ErrorBox error={details.error} what="the execution details" />
          {d && <JsonView value={d.input_variables ?? {}} label="execution input" />}
        </Card>
        <Card title="Results">{d && <JsonView value={d.results ?? null} label="execution results" />}</Card>
      </div>
      <Card title="Status history">
        {d && (
          <ol class="history">
            {d.status_history.map((h) => (
              <li>
                <StatusBadge status={h.status} /> <span>{time(h.timestamp)}</span> <span class="muted small">from {h.source === "log" ? "a lifecycle record" : "the execution span"}</span>
              </li>
            ))}
          </ol>
        )}
      </Card>
      {stepId && <StepPanel executionId={executionId} stepId={stepId} stepStatus={timeline.step_timeline.find((x) => x.step_id === stepId)?.status ?? ""} onClose={() => navigate(paths.execution(executionId))} />}
    </div>
  );
}

/** Who started this execution: a step of another execution (linked), or a foreign span. */
function TriggeredByLine({ by }: { by: TriggeredBy }) {
  return (
    <div class="muted" data-testid="triggered-by">
      triggered by{" "}
      {by.execution_id ? (
        <>
          <Link to={paths.execution(by.execution_id)}>execution {shortId(by.execution_id)}</Link>
          {by.step_id ? <> · step <span class="mono">{by.step_id}</span></> : null}
        </>
      ) : (
        <span class="mono" title={`trace ${by.trace_id}, span ${by.span_id}`}>
          span {by.span_id} of trace {shortId(by.trace_id)}
        </span>
      )}
    </div>
  );
}
