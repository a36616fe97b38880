// A collapsible JSON viewer built from DOM nodes: every key and value is a text node,
// so untrusted step data is shown literally and never parsed as HTML.
import { useState } from "preact/hooks";
import type { Json } from "../types";

const PAGE = 200;

function Scalar({ value }: { value: Json }) {
  if (value === null) return <span class="jv-null">null</span>;
  if (typeof value === "string") return <span class="jv-str">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span class="jv-num">{String(value)}</span>;
  if (typeof value === "boolean") return <span class="jv-bool">{String(value)}</span>;
  return <span>{String(value)}</span>;
}

function Key({ name }: { name?: string | number }) {
  if (name === undefined) return null;
  return <span class="jv-key">{typeof name === "number" ? `${name}: ` : `${JSON.stringify(name)}: `}</span>;
}

function Node({ name, value, depth, openDepth }: { name?: string | number; value: Json; depth: number; openDepth: number }) {
  const [open, setOpen] = useState(depth < openDepth);
  const [limit, setLimit] = useState(PAGE);
  if (value === null || typeof value !== "object") {
    return (
      <div class="jv-row">
        <Key name={name} />
        <Scalar value={value} />
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string | number, Json][] = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = isArray ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) {
    return (
      <div class="jv-row">
        <Key name={name} />
        <span class="jv-punct">{isArray ? "[]" : "{}"}</span>
      </div>
    );
  }
  return (
    <div class="jv-node">
      <button type="button" class="jv-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="jv-caret" aria-hidden="true">
          {open ? "▾" : "▸"}
        </span>
        <Key name={name} />
        <span class="jv-punct">{summary}</span>
      </button>
      {open && (
        <div class="jv-children">
          {entries.slice(0, limit).map(([k, v]) => (
            <Node key={k} name={k} value={v} depth={depth + 1} openDepth={openDepth} />
          ))}
          {entries.length > limit && (
            <button type="button" class="link-button" onClick={() => setLimit(limit + PAGE * 5)}>
              show {Math.min(PAGE * 5, entries.length - limit)} more of {entries.length - limit} hidden
            </button>
          )}
        </div>
      )}
    </div>
  );
}

export function JsonView({ value, openDepth = 2, label }: { value: Json | undefined; openDepth?: number; label?: string }) {
  const [raw, setRaw] = useState(false);
  const [copied, setCopied] = useState(false);
  if (value === undefined) return <div class="muted">–</div>;
  const text = JSON.stringify(value, null, 2);
  const copy = () => {
    void navigator.clipboard?.writeText(text).then(() => {
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1200);
    });
  };
  return (
    <div class="json-view" aria-label={label}>
      <div class="jv-tools">
        <button type="button" class="link-button" onClick={() => setRaw(!raw)}>
          {raw ? "tree" : "raw JSON"}
        </button>
        <button type="button" class="link-button" onClick={copy}>
          {copied ? "copied" : "copy"}
        </button>
      </div>
      {raw ? <pre class="jv-raw">{text}</pre> : <Node value={value} depth={0} openDepth={openDepth} />}
    </div>
  );
}
