// The step panel: a step's full input and output (collapsible JSON), error, attempts,
// span events and log records. Opened by /executions/{id}/steps/{step_id}.
import { useEffect } from "preact/hooks";
import { enc, get, query } from "../api";
import { JsonView } from "../components/JsonView";
import { ErrorBox, Loading } from "../components/Messages";
import { StatusBadge } from "../components/Status";
import { seconds, time } from "../format";
import { useData } from "../hooks";
import type { LogRecord, Page, StepDetails } from "../types";

export function StepPanel({ executionId, stepId, stepStatus, onClose }: { executionId: string; stepId: string; stepStatus: string; onClose: () => void }) {
  const step = useData(
    () => get<StepDetails>(`/api/workflows/executions/${enc(executionId)}/steps/${enc(stepId)}`),
    [executionId, stepId, stepStatus],
  );
  const logs = useData(
    () => get<Page<LogRecord>>(`/api/workflows/executions/${enc(executionId)}/logs${query({ step_id: stepId, limit: 200 })}`),
    [executionId, stepId, stepStatus],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  const s = step.data;
  return (
    <aside class="panel" aria-label="step details" id="step-panel">
      <header class="panel-head">
        <div>
          <div class="muted small">Step</div>
          <h2>{s?.step_name ?? stepId}</h2>
          {s && (
            <div class="muted small">
              <span class="mono">{s.step_id}</span> · <StatusBadge status={s.status} /> · {seconds(s.duration)} · {s.retry_count} retries
            </div>
          )}
        </div>
        <button type="button" class="button" onClick={onClose} aria-label="Close the step panel">
          ✕
        </button>
      </header>
      <div class="panel-body">
        <ErrorBox error={step.error} what="the step" />
        {step.loading && !s && <Loading what="step" />}
        {s && (
          <>
            {s.error_message && (
              <section>
                <h3>Error</h3>
                <pre class="error-text">{s.error_message}</pre>
              </section>
            )}
            {s.skip_reason && (
              <section>
                <h3>Skipped because</h3>
                <p>{s.skip_reason}</p>
              </section>
            )}
            <section>
              <h3>Timing</h3>
              <dl class="facts">
                <dt>started</dt>
                <dd>{time(s.started_at)}</dd>
                <dt>completed</dt>
                <dd>{time(s.completed_at)}</dd>
                <dt>depends on</dt>
                <dd>{s.depends_on.length ? s.depends_on.join(", ") : "–"}</dd>
              </dl>
            </section>
            <section>
              <h3>Attempts</h3>
              {s.attempts.length === 0 ? (
                <p class="muted">No attempt spans recorded.</p>
              ) : (
                <table class="table compact">
                  <thead>
                    <tr>
                      <th>#</th>
                      <th>Status</th>
                      <th title="from the step's start">Started</th>
                      <th class="num">Duration</th>
                      <th>Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.attempts.map((a) => (
                      <tr>
                        <td>{a.attempt}</td>
                        <td>
                          <StatusBadge status={a.status} />
                        </td>
                        <td class="nowrap" title={time(a.started_at)}>
                          {s.started_at && a.started_at ? `+${seconds((Date.parse(a.started_at) - Date.parse(s.started_at)) / 1000)}` : time(a.started_at)}
                        </td>
                        <td class="num">{seconds(a.duration)}</td>
                        <td class="error-cell">{a.error_message ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section>
              <h3>Input {s.input_truncated && <span class="tag warn">cut by the emitter</span>}</h3>
              <JsonView value={s.input_data} label="step input" />
            </section>
            <section id="step-output">
              <h3>Output {s.output_truncated && <span class="tag warn">cut by the emitter</span>}</h3>
              <JsonView value={s.output_data} label="step output" openDepth={3} />
            </section>
            <section>
              <h3>Span events</h3>
              {s.events.length === 0 ? (
                <p class="muted">None.</p>
              ) : (
                s.events.map((e) => (
                  <div class="event">
                    <div>
                      <strong>{e.name}</strong> <span class="muted small">{time(e.timestamp)}</span>
                    </div>
                    <JsonView value={e.attributes} openDepth={1} />
                  </div>
                ))
              )}
            </section>
          </>
        )}
        <section>
          <h3>Log records</h3>
          <ErrorBox error={logs.error} what="the log records" />
          {logs.data && logs.data.items.length === 0 && <p class="muted">None.</p>}
          {logs.data && logs.data.items.length > 0 && (
            <table class="table compact logs">
              <tbody>
                {logs.data.items.map((l) => (
                  <tr>
                    <td class="mono small nowrap">{time(l.timestamp)}</td>
                    <td class="small nowrap">{l.severity_text || String(l.severity_number)}</td>
                    <td>
                      {l.event_name && <code>{l.event_name}</code>} {l.body ?? ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {logs.data && logs.data.total > logs.data.items.length && (
            <p class="muted small">
              showing {logs.data.items.length} of {logs.data.total}
            </p>
          )}
        </section>
      </div>
    </aside>
  );
}
