// Two executions of one workflow side by side, step by step: status changes, duration
// deltas and output differences (none of the usual workflow UIs offers this).
import { useState } from "preact/hooks";
import { enc, get } from "../api";
import { Card, ErrorBox, Loading } from "../components/Messages";
import { StatusBadge } from "../components/Status";
import { type Change, diff, show } from "../diff";
import { delta, seconds, shortId, time } from "../format";
import { useData } from "../hooks";
import { Link, navigate, paths } from "../router";
import type { ExecutionDetails, Json, Timeline, TimelineStep } from "../types";

interface Side {
  timeline: Timeline;
  details: ExecutionDetails;
}

async function load(id: string): Promise<Side> {
  const [timeline, details] = await Promise.all([
    get<Timeline>(`/api/workflows/executions/${enc(id)}/timeline`),
    get<ExecutionDetails>(`/api/workflows/executions/${enc(id)}`),
  ]);
  return { timeline, details };
}

// Skipped and pending steps did not run: no duration to compare.
const ran = (s: TimelineStep | undefined) => (s && s.status !== "skipped" && s.status !== "pending" ? s.duration_seconds : null);

const label = (t: Timeline) => (t.execution_number !== null ? `#${t.execution_number}` : shortId(t.execution_id));

function Changes({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <span class="muted">same</span>;
  return (
    <table class="table compact diff">
      <tbody>
        {changes.map((c) => (
          <tr class={`diff-${c.kind}`}>
            <td class="mono small">{c.path || "(whole value)"}</td>
            <td class="mono small diff-a">{c.kind === "added" ? "–" : show(c.a)}</td>
            <td aria-hidden="true">→</td>
            <td class="mono small diff-b">{c.kind === "removed" ? "–" : show(c.b)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Row {
  stepId: string;
  name: string;
  a?: TimelineStep;
  b?: TimelineStep;
  outA?: Json;
  outB?: Json;
}

function rows(a: Side, b: Side): Row[] {
  const out = new Map<string, Row>();
  const add = (side: Side, key: "a" | "b") => {
    const outputs = new Map(side.details.step_executions.map((s) => [s.step_id, s.output_data]));
    for (const s of side.timeline.step_timeline) {
      const row = out.get(s.step_id) ?? { stepId: s.step_id, name: s.step_name };
      row[key] = s;
      if (key === "a") row.outA = outputs.get(s.step_id);
      else row.outB = outputs.get(s.step_id);
      out.set(s.step_id, row);
    }
  };
  add(b, "b");
  add(a, "a");
  return [...out.values()];
}

export function Compare({ a, b }: { a: string; b: string }) {
  const left = useData(() => load(a), [a]);
  const right = useData(() => load(b), [b]);
  const [onlyChanged, setOnlyChanged] = useState(false);
  if (left.error || right.error) {
    return (
      <div class="page">
        <ErrorBox error={left.error} what={`execution ${a}`} />
        <ErrorBox error={right.error} what={`execution ${b}`} />
      </div>
    );
  }
  if (!left.data || !right.data) return <div class="page"><Loading what="both executions" /></div>;
  const A = left.data;
  const B = right.data;
  const all = rows(A, B).map((r) => {
    const changes = diff(r.outA ?? null, r.outB ?? null);
    const statusChanged = r.a?.status !== r.b?.status;
    return { ...r, changes, statusChanged, changed: statusChanged || changes.length > 0 };
  });
  const shown = onlyChanged ? all.filter((r) => r.changed) : all;
  const inputChanges = diff(A.details.input_variables ?? {}, B.details.input_variables ?? {});
  const resultChanges = diff(A.details.results ?? null, B.details.results ?? null);
  const changedCount = all.filter((r) => r.changed).length;
  return (
    <div class="page">
      <div class="crumbs">
        <Link to={paths.home()}>Workflows</Link> <span aria-hidden="true">›</span>{" "}
        <Link to={paths.workflow(B.timeline.workflow_id)}>{B.timeline.workflow_name ?? B.timeline.workflow_id}</Link>{" "}
        <span aria-hidden="true">›</span> <span>compare</span>
      </div>
      <div class="page-head">
        <div>
          <h1>
            Compare {label(A.timeline)} → {label(B.timeline)}
          </h1>
          <div class="muted">
            {changedCount} of {all.length} steps differ · duration {seconds(A.timeline.total_duration_seconds)} → {seconds(B.timeline.total_duration_seconds)} (
            {delta(A.timeline.total_duration_seconds, B.timeline.total_duration_seconds)})
          </div>
        </div>
        <div class="head-actions">
          <label class="inline-field">
            <input type="checkbox" checked={onlyChanged} onChange={(e) => setOnlyChanged((e.target as HTMLInputElement).checked)} /> only steps that differ
          </label>
          <button type="button" class="button" onClick={() => navigate(paths.compare(b, a))}>
            ⇄ Swap
          </button>
        </div>
      </div>
      {A.timeline.workflow_id !== B.timeline.workflow_id && (
        <div class="error-box" role="alert">
          <strong>Different workflows</strong>
          <span>These executions belong to different workflows; steps are matched by id.</span>
        </div>
      )}
      <div class="grid-2">
        {[A, B].map((side, i) => (
          <Card title={`${i === 0 ? "A" : "B"}: ${label(side.timeline)}`}>
            <div class="compare-side">
              <Link to={paths.execution(side.timeline.execution_id)}>
                <StatusBadge status={side.timeline.status} />
              </Link>{" "}
              started {time(side.timeline.started_at)} · took {seconds(side.timeline.total_duration_seconds)}
              {side.timeline.error_message && <div class="error-cell">{side.timeline.error_message}</div>}
            </div>
          </Card>
        ))}
      </div>
      <Card title="Steps">
        <table class="table compare-table">
          <thead>
            <tr>
              <th>Step</th>
              <th>Status A → B</th>
              <th class="num">Duration A</th>
              <th class="num">Duration B</th>
              <th class="num">Δ</th>
              <th>Output differences</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.stepId} data-step-id={r.stepId} class={r.changed ? "changed" : ""}>
                <td>
                  {r.changed && (
                    <span class="changed-mark" title="differs">
                      ≠{" "}
                    </span>
                  )}
                  <span class="strong">{r.name}</span>
                </td>
                <td>
                  {r.a ? <StatusBadge status={r.a.status} /> : <span class="muted">absent</span>}
                  {r.statusChanged ? <strong> → </strong> : <span class="muted"> = </span>}
                  {r.b ? <StatusBadge status={r.b.status} /> : <span class="muted">absent</span>}
                  {r.statusChanged && (r.b?.error_message || r.b?.skip_reason) && (
                    <div class="error-cell">{r.b.error_message ?? r.b.skip_reason}</div>
                  )}
                </td>
                <td class="num">{seconds(ran(r.a))}</td>
                <td class="num">{seconds(ran(r.b))}</td>
                <td class="num">{delta(ran(r.a), ran(r.b))}</td>
                <td>
                  <Changes changes={r.changes} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <div class="grid-2">
        <Card title="Input differences">
          <Changes changes={inputChanges} />
        </Card>
        <Card title="Result differences">
          <Changes changes={resultChanges} />
        </Card>
      </div>
    </div>
  );
}
