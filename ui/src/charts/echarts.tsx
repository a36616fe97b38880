// Apache ECharts, only the parts the UI uses (tree-shaken), rendered as SVG: crisp at any
// zoom, cheap for a few thousand shapes, and its labels are real text in the page.
import { BarChart, CustomChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "preact/hooks";

echarts.use([
  BarChart, CustomChart, LineChart, ScatterChart, DataZoomComponent, GridComponent, LegendComponent,
  MarkLineComponent, TooltipComponent, SVGRenderer,
]);

export { echarts };
export type EChartsOption = echarts.EChartsCoreOption;
export type ChartClick = (params: { data?: unknown; value?: unknown; dataIndex: number; componentType?: string; seriesIndex?: number }) => void;

/** Tooltip content as DOM nodes built from text: ECharts would parse a string as HTML. */
export function tooltipLines(lines: (string | [string, string])[]): HTMLElement {
  const box = document.createElement("div");
  box.className = "chart-tip";
  for (const line of lines) {
    const row = document.createElement("div");
    if (Array.isArray(line)) {
      const k = document.createElement("span");
      k.className = "tip-key";
      k.textContent = line[0];
      row.appendChild(k);
      row.appendChild(document.createTextNode(line[1]));
    } else {
      row.className = "tip-title";
      row.textContent = line;
    }
    box.appendChild(row);
  }
  return box;
}

/** A chart in a div; the option is applied on every render (ECharts diffs it). */
export function Chart({
  option,
  height,
  onClick,
  class: cls,
  label,
  notMerge = false,
  mark,
}: {
  option: EChartsOption;
  height: number;
  onClick?: ChartClick;
  class?: string;
  label?: string;
  notMerge?: boolean;
  /** A performance mark set once the chart has drawn (tests read it: time to first render). */
  mark?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const clickRef = useRef(onClick);
  clickRef.current = onClick;
  useEffect(() => {
    if (!el.current) return;
    const c = echarts.init(el.current, undefined, { renderer: "svg" });
    chart.current = c;
    c.on("click", (p) => clickRef.current?.(p as Parameters<ChartClick>[0]));
    const resize = () => c.resize();
    const observer = new ResizeObserver(resize);
    observer.observe(el.current);
    return () => {
      observer.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    if (!chart.current) return;
    chart.current.setOption(option, { notMerge, lazyUpdate: false });
    if (mark && performance.getEntriesByName(mark).length === 0) performance.mark(mark);
  }, [option, notMerge]);
  useEffect(() => {
    chart.current?.resize();
  }, [height]);
  return <div ref={el} class={cls} style={{ height: `${height}px`, width: "100%" }} role="img" aria-label={label} />;
}
