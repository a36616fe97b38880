// The small charts: executions per day (home) and duration over time (workflow page).
import { count, seconds, statusOf, time } from "../format";
import type { DayCount, Durations } from "../types";
import { type EChartsOption, tooltipLines } from "./echarts";

export function trendOption(days: DayCount[]): EChartsOption {
  return {
    animation: false,
    grid: { left: 2, right: 2, top: 4, bottom: 2 },
    xAxis: { type: "category", show: false, data: days.map((d) => d.day) },
    yAxis: { type: "value", show: false, minInterval: 1 },
    tooltip: {
      trigger: "axis",
      confine: true,
      formatter: (ps: { dataIndex: number }[]) => {
        const d = days[ps[0]?.dataIndex ?? 0];
        return d ? tooltipLines([d.day, ["executions ", count(d.executions)], ["failed ", count(d.failed)]]) : "";
      },
    },
    series: [
      { type: "bar", stack: "n", data: days.map((d) => d.executions - d.failed), itemStyle: { color: "#8fb8e8" }, barCategoryGap: "20%" },
      { type: "bar", stack: "n", data: days.map((d) => d.failed), itemStyle: { color: "#d0342c" } },
    ],
  };
}

// Status shapes, so the points are told apart without colour too.
const SYMBOL: Record<string, string> = {
  completed: "circle",
  failed: "triangle",
  timeout: "diamond",
  cancelled: "rect",
};

export function durationOption(d: Durations, p95: number | null): EChartsOption {
  const statuses = ["completed", "failed", "timeout", "cancelled"];
  const pts = d.points.filter((p) => p.started_at && p.duration_seconds !== null);
  return {
    animation: false,
    grid: { left: 64, right: 24, top: 40, bottom: 30 },
    legend: { top: 0, left: 0, itemWidth: 10, itemHeight: 10, textStyle: { color: "#4a5563" } },
    xAxis: { type: "time", axisLabel: { color: "#4a5563", hideOverlap: true } },
    yAxis: {
      type: "value",
      axisLabel: { formatter: (v: number) => seconds(v), color: "#4a5563" },
      splitLine: { lineStyle: { color: "#eef1f4" } },
    },
    tooltip: {
      trigger: "item",
      confine: true,
      formatter: (p: { data?: { point?: Durations["points"][number] } }) => {
        const pt = p.data?.point;
        if (!pt) return "";
        return tooltipLines([
          `#${pt.execution_number ?? pt.execution_id.slice(0, 8)}`,
          ["status ", `${statusOf(pt.status).icon} ${pt.status}`],
          ["duration ", seconds(pt.duration_seconds)],
          ["started ", time(pt.started_at)],
          ["", "click to open"],
        ]);
      },
    },
    series: [
      ...statuses.map((status, i) => ({
        name: `${statusOf(status).icon} ${status}`,
        type: "scatter",
        symbol: SYMBOL[status],
        symbolSize: status === "completed" ? 7 : 10,
        itemStyle: { color: statusOf(status).color, opacity: 0.85 },
        data: pts
          .filter((p) => p.status === status)
          .map((p) => ({ value: [Date.parse(p.started_at as string), p.duration_seconds], point: p })),
        markLine:
          i === 0 && p95 !== null
            ? {
                symbol: "none",
                silent: true,
                lineStyle: { color: "#6b5fa8", type: "dashed", width: 1.5 },
                label: { formatter: `p95 ${seconds(p95)}`, position: "insideEndTop", color: "#6b5fa8" },
                data: [{ yAxis: p95 }],
              }
            : undefined,
      })),
    ],
  };
}
