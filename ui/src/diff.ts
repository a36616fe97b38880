// Differences between two JSON values, as a list of paths (for comparing step outputs).
import type { Json } from "./types";

export interface Change {
  path: string;
  kind: "added" | "removed" | "changed";
  a?: Json;
  b?: Json;
}

const isObject = (v: Json | undefined): v is { [k: string]: Json } => v !== null && typeof v === "object" && !Array.isArray(v);

export function diff(a: Json | undefined, b: Json | undefined, limit = 200): Change[] {
  const out: Change[] = [];
  const walk = (x: Json | undefined, y: Json | undefined, path: string) => {
    if (out.length >= limit) return;
    if (x === undefined && y === undefined) return;
    if (x === undefined) return void out.push({ path, kind: "added", b: y });
    if (y === undefined) return void out.push({ path, kind: "removed", a: x });
    if (isObject(x) && isObject(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) walk(x[i], y[i], `${path}[${i}]`);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ path, kind: "changed", a: x, b: y });
  };
  walk(a, b, "");
  return out;
}

export const show = (v: Json | undefined): string => {
  if (v === undefined) return "–";
  const s = JSON.stringify(v);
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
};
