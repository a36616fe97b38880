// Display formats shared by every page: statuses (icon + word + colour: never colour
// alone), durations, times.
import type { ExecutionStatus, StepStatus } from "./types";

export type AnyStatus = ExecutionStatus | StepStatus;

export const STATUS: Record<AnyStatus, { icon: string; label: string; color: string }> = {
  completed: { icon: "✓", label: "completed", color: "#2e8540" },
  failed: { icon: "✗", label: "failed", color: "#d0342c" },
  timeout: { icon: "◷", label: "timeout", color: "#b3261e" },
  cancelled: { icon: "■", label: "cancelled", color: "#6b5fa8" },
  skipped: { icon: "⊘", label: "skipped", color: "#8a939c" },
  running: { icon: "▶", label: "running", color: "#1f6fd1" },
  pending: { icon: "…", label: "pending", color: "#c58a00" },
  // another emitter's run unheard of for a while (serve --silence-seconds): not finished
  unknown: { icon: "?", label: "unknown", color: "#6c757d" },
};

export const statusOf = (s: string | null | undefined) =>
  STATUS[(s ?? "pending") as AnyStatus] ?? { icon: "?", label: String(s), color: "#555" };

export const TERMINAL = new Set(["completed", "failed", "cancelled", "timeout"]);

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const v = Math.max(0, value);
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 60) return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} s`;
  if (v < 3600) return `${Math.floor(v / 60)}m ${String(Math.floor(v % 60)).padStart(2, "0")}s`;
  return `${Math.floor(v / 3600)}h ${String(Math.floor((v % 3600) / 60)).padStart(2, "0")}m`;
}

export function delta(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined) return "–";
  const d = b - a;
  const sign = d > 0 ? "+" : d < 0 ? "−" : "±";
  // A percentage of a near-zero duration says nothing (and reads as +11,000,000%).
  const pct = a >= 0.05 && b >= 0.05 ? ` (${sign}${Math.abs((100 * d) / a).toFixed(0)}%)` : "";
  return `${sign}${seconds(Math.abs(d))}${pct}`;
}

const pad = (n: number) => String(n).padStart(2, "0");

export function time(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const ms = String(d.getMilliseconds()).padStart(3, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${ms}`;
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const s = (now - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return "–";
  if (s < 5) return "just now";
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const percent = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? "–" : `${v.toFixed(digits)}%`;

export const shortId = (id: string) => id.slice(0, 8);

export function executionLabel(name: string | null | undefined, number: number | null | undefined, id: string) {
  return `${name ?? "execution"} ${number !== null && number !== undefined ? `#${number}` : shortId(id)}`;
}

export const count = (n: number) => n.toLocaleString("en-US");
