// The execution Gantt as an ECharts custom series: one row per step (plus the execution
// itself on top), each attempt its own bar, retry backoff as a dashed "waiting" bar, the
// time a ready step waited to start (queue) as a hatched bar before it, the critical path
// outlined and marked with ◆, and the status as an icon + word in the row label.
import { seconds, statusOf } from "../format";
import type { Attempt, Timeline, TimelineStep } from "../types";
import { type EChartsOption, tooltipLines } from "./echarts";

export const ROW_PX = 28;
const MAX_VISIBLE_ROWS = 24;

type Kind = "queue" | "attempt" | "backoff" | "running" | "run" | "skipped" | "exec";

interface Segment {
  row: number;
  start: number; // seconds from the execution's start
  end: number;
  kind: Kind;
  status: string;
  attempt?: number;
  attempts?: number;
  step?: TimelineStep;
  error?: string | null;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

export interface GanttModel {
  option: EChartsOption;
  height: number;
  rows: { label: string; stepId: string | null }[];
  segments: number;
}

export function ganttModel(
  timeline: Timeline,
  attempts: Map<string, Attempt[]>,
  nowMs: number,
  selected?: string,
): GanttModel {
  const steps = timeline.step_timeline;
  const starts = steps.map((s) => ms(s.started_at)).filter(Number.isFinite);
  const t0 = Number.isFinite(ms(timeline.started_at)) ? ms(timeline.started_at) : starts.length ? Math.min(...starts) : nowMs;
  const rel = (t: number) => (t - t0) / 1000;
  const running = timeline.status === "running" || timeline.status === "pending";
  const endOf = (iso: string | null) => (Number.isFinite(ms(iso)) ? rel(ms(iso)) : rel(nowMs));
  const critical = new Set(timeline.critical_path);
  const segments: Segment[] = [];

  // Row 0: the execution itself (its own queue before it started, then its run).
  const execStatus = timeline.status;
  const queuedAt = ms(timeline.queued_at);
  if (Number.isFinite(queuedAt) && Number.isFinite(ms(timeline.started_at)) && rel(queuedAt) < -0.0005) {
    segments.push({ row: 0, start: rel(queuedAt), end: 0, kind: "queue", status: "pending" });
  }
  if (Number.isFinite(ms(timeline.started_at)) || starts.length) {
    segments.push({ row: 0, start: 0, end: endOf(timeline.completed_at), kind: "exec", status: execStatus });
  }

  steps.forEach((step, i) => {
    const row = i + 1;
    const start = ms(step.started_at);
    if (!Number.isFinite(start)) return; // pending: no bar yet
    const s = rel(start);
    if (step.status === "skipped") {
      segments.push({ row, start: s, end: s, kind: "skipped", status: "skipped", step });
      return;
    }
    if (step.queue_seconds && step.queue_seconds > 0.0005) {
      segments.push({ row, start: s - step.queue_seconds, end: s, kind: "queue", status: step.status, step });
    }
    const tries = attempts.get(step.step_id) ?? [];
    let cursor = s;
    tries.forEach((a, k) => {
      const as = rel(ms(a.started_at));
      const ae = rel(ms(a.completed_at));
      if (!Number.isFinite(as) || !Number.isFinite(ae)) return;
      if (k > 0 && as - cursor > 0.0005) {
        segments.push({ row, start: cursor, end: as, kind: "backoff", status: step.status, step, attempt: a.attempt });
      }
      segments.push({
        row, start: as, end: ae, kind: "attempt", status: a.status, step, attempt: a.attempt,
        attempts: tries.length, error: a.error_message,
      });
      cursor = ae;
    });
    if (step.status === "running") {
      // Attempt spans arrive when an attempt ends: the current one runs from the last end.
      const retrying = tries.length > 0;
      if (retrying) segments.push({ row, start: cursor, end: cursor, kind: "backoff", status: "running", step });
      segments.push({ row, start: cursor, end: rel(nowMs), kind: "running", status: "running", step, attempt: tries.length + 1 });
    } else if (tries.length === 0) {
      segments.push({ row, start: s, end: endOf(step.completed_at), kind: "run", status: step.status, step, error: step.error_message });
    }
  });

  const rows = [
    { label: `▣ Execution${timeline.execution_number !== null ? ` #${timeline.execution_number}` : ""}`, stepId: null as string | null },
    ...steps.map((st) => ({
      label: `${critical.has(st.step_id) ? "◆ " : ""}${statusOf(st.status).icon} ${st.step_name}`,
      stepId: st.step_id,
    })),
  ];
  const maxEnd = Math.max(0.001, ...segments.map((g) => g.end), running ? rel(nowMs) : 0);
  const minStart = Math.min(0, ...segments.map((g) => g.start));
  const windowed = rows.length > MAX_VISIBLE_ROWS;
  const visible = Math.min(rows.length, MAX_VISIBLE_ROWS);
  const height = visible * ROW_PX + 64;

  const data = segments.map((g, i) => ({ value: [g.row, g.start, g.end, i], seg: g }));
  const option: EChartsOption = {
    animation: false,
    grid: { left: 250, right: windowed ? 48 : 24, top: 8, bottom: 48 },
    xAxis: {
      type: "value",
      min: minStart,
      max: maxEnd * 1.02,
      axisLabel: { formatter: (v: number) => (v === 0 ? "0" : `${v < 0 ? "−" : "+"}${seconds(Math.abs(v))}`), color: "#4a5563" },
      splitLine: { lineStyle: { color: "#eef1f4" } },
      name: "time since the execution started",
      nameLocation: "middle",
      nameGap: 28,
      nameTextStyle: { color: "#6b7580" },
    },
    yAxis: {
      type: "category",
      inverse: true,
      data: rows.map((r) => r.label),
      triggerEvent: true,
      axisTick: { show: false },
      axisLine: { show: false },
      axisLabel: {
        width: 230,
        overflow: "truncate",
        color: (_: unknown, index: number) => {
          const r = rows[index];
          if (r?.stepId && r.stepId === selected) return "#0b57d0";
          return r?.stepId && critical.has(r.stepId) ? "#111827" : "#4a5563";
        },
        fontWeight: 500,
      },
      splitLine: { show: true, lineStyle: { color: "#f3f5f7" } },
    },
    dataZoom: windowed
      ? [
          { type: "slider", yAxisIndex: 0, startValue: 0, endValue: MAX_VISIBLE_ROWS - 1, width: 14, right: 8, showDetail: false, brushSelect: false, filterMode: "weakFilter" },
          { type: "inside", yAxisIndex: 0, zoomOnMouseWheel: false, moveOnMouseWheel: true, moveOnMouseMove: false, filterMode: "weakFilter" },
          { type: "inside", xAxisIndex: 0, zoomOnMouseWheel: "ctrl", moveOnMouseWheel: false, filterMode: "weakFilter" },
        ]
      : [{ type: "inside", xAxisIndex: 0, zoomOnMouseWheel: "ctrl", moveOnMouseWheel: false, filterMode: "weakFilter" }],
    tooltip: {
      trigger: "item",
      confine: true,
      transitionDuration: 0,
      formatter: (p: { data?: { seg?: Segment } }) => tip(p.data?.seg),
    },
    series: [
      {
        type: "custom",
        encode: { x: [1, 2], y: 0 },
        data,
        clip: true,
        renderItem: (_params: unknown, api: RenderApi) => draw(api, segments[api.value(3) as number], critical, selected),
      },
    ],
  };
  return { option, height, rows, segments: segments.length };
}

interface RenderApi {
  value: (dim: number) => number;
  coord: (v: [number, number]) => [number, number];
  size: (v: [number, number]) => [number, number];
}

function draw(api: RenderApi, g: Segment, critical: Set<string>, selected?: string) {
  const [x0, y] = api.coord([g.start, g.row]);
  const [x1] = api.coord([g.end, g.row]);
  const band = api.size([0, 1])[1];
  const color = statusOf(g.status).color;
  const onPath = g.step !== undefined && critical.has(g.step.step_id);
  const isSelected = g.step !== undefined && g.step.step_id === selected;
  const h = band * 0.62;
  const top = y - h / 2;
  const width = Math.max(x1 - x0, 2);
  const children: unknown[] = [];
  const label = (text: string, fill = "#fff") =>
    width > text.length * 6.5 + 8
      ? { type: "text", style: { x: x0 + width / 2, y, text, fill, align: "center", verticalAlign: "middle", fontSize: 11, fontWeight: 600 } }
      : null;
  switch (g.kind) {
    case "queue":
      children.push({ type: "rect", shape: { x: x0, y: top + h * 0.2, width, height: h * 0.6 }, style: { fill: "#e6eaef", stroke: "#9aa5b1", lineDash: [2, 2], lineWidth: 1 } });
      children.push(label("queued", "#56606b"));
      break;
    case "backoff":
      children.push({ type: "rect", shape: { x: x0, y: top + h * 0.3, width, height: h * 0.4 }, style: { fill: "#fff8e6", stroke: "#c58a00", lineDash: [4, 3], lineWidth: 1 } });
      children.push(label("backoff", "#8a6100"));
      break;
    case "skipped":
      children.push({ type: "polygon", shape: { points: [[x0, y - 7], [x0 + 7, y], [x0, y + 7], [x0 - 7, y]] }, style: { fill: "#fff", stroke: color, lineWidth: 1.5 } });
      children.push({ type: "text", style: { x: x0 + 12, y, text: "skipped", fill: "#6b7580", verticalAlign: "middle", fontSize: 11 } });
      break;
    case "exec":
      children.push({ type: "rect", shape: { x: x0, y: top + h * 0.15, width, height: h * 0.7, r: 2 }, style: { fill: color, opacity: 0.28, stroke: color, lineWidth: 1 } });
      break;
    default: {
      const runningNow = g.kind === "running";
      children.push({
        type: "rect",
        shape: { x: x0, y: top, width, height: h, r: 2 },
        style: {
          fill: runningNow ? "#cfe2fb" : color,
          stroke: isSelected ? "#0b57d0" : onPath ? "#111827" : runningNow ? color : undefined,
          lineWidth: isSelected || onPath ? 2 : 1,
          lineDash: runningNow ? [5, 3] : undefined,
        },
      });
      const mark = g.status === "failed" || g.status === "timeout" ? "✗" : g.status === "cancelled" ? "■" : "";
      const text = runningNow ? "running…" : `${g.attempts && g.attempts > 1 ? `#${g.attempt} ` : ""}${mark}`.trim();
      if (text) children.push(label(text, runningNow ? "#0b3f80" : "#fff"));
    }
  }
  return { type: "group", children: children.filter(Boolean) };
}

function tip(g: Segment | undefined): HTMLElement | string {
  if (!g) return "";
  const lines: (string | [string, string])[] = [];
  const name = g.step ? g.step.step_name : "Execution";
  const what: Record<Kind, string> = {
    queue: "queued: ready, waiting to start",
    backoff: "retry backoff (waiting)",
    attempt: `attempt ${g.attempt ?? 1}${g.attempts ? ` of ${g.attempts}` : ""}`,
    running: `running (attempt ${g.attempt ?? 1})`,
    run: "run",
    skipped: "skipped",
    exec: "whole execution",
  };
  lines.push(name);
  lines.push(["", what[g.kind]]);
  lines.push(["status ", `${statusOf(g.status).icon} ${statusOf(g.status).label}`]);
  if (g.kind !== "skipped") lines.push(["duration ", seconds(g.end - g.start)]);
  lines.push(["from ", `+${seconds(Math.max(0, g.start))}`]);
  if (g.error) lines.push(["error ", g.error.length > 300 ? `${g.error.slice(0, 300)}…` : g.error]);
  if (g.step?.skip_reason) lines.push(["reason ", g.step.skip_reason]);
  return tooltipLines(lines);
}
