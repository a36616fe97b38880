// "Run" form built from the workflow definition's inputs: one field per input, typed
// (text, number, checkbox, JSON for objects and arrays), with its default and description.
import { useState } from "preact/hooks";
import { enc, post } from "../api";
import { ErrorBox } from "../components/Messages";
import { navigate, paths } from "../router";
import type { InputSpec, Json, Workflow } from "../types";

function initial(spec: InputSpec): string | boolean {
  if (spec.type === "boolean") return spec.default === true;
  if (spec.default === undefined || spec.default === null) return "";
  return typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
}

function convert(name: string, spec: InputSpec, raw: string | boolean): Json | undefined {
  if (typeof raw === "boolean") return raw;
  if (raw === "") {
    if (spec.required && spec.default === undefined) throw new Error(`'${name}' is required`);
    return undefined; // the engine applies the default
  }
  switch (spec.type) {
    case "number":
    case "integer": {
      const n = Number(raw);
      if (!Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n))) throw new Error(`'${name}' must be ${spec.type === "integer" ? "an integer" : "a number"}`);
      return n;
    }
    case "object":
    case "array":
    case "any":
      try {
        return JSON.parse(raw) as Json;
      } catch {
        if (spec.type === "any") return raw;
        throw new Error(`'${name}' must be JSON (${spec.type})`);
      }
    default:
      return raw;
  }
}

export function RunForm({ workflow, onClose }: { workflow: Workflow; onClose: () => void }) {
  const inputs = Object.entries(workflow.definition.inputs ?? {});
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(inputs.map(([name, spec]) => [name, initial(spec ?? {})])),
  );
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError(null);
    const input_variables: Record<string, Json> = {};
    try {
      for (const [name, spec] of inputs) {
        const v = convert(name, spec ?? {}, values[name]);
        if (v !== undefined) input_variables[name] = v;
      }
    } catch (err) {
      setError(err as Error);
      return;
    }
    setBusy(true);
    try {
      const started = await post<{ id: string }>(`/api/workflows/${enc(workflow.id)}/execute`, { input_variables });
      navigate(paths.execution(started.id));
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <form class="modal" onSubmit={submit} aria-label={`Run ${workflow.name}`}>
        <h2>Run {workflow.name}</h2>
        {inputs.length === 0 && <p class="muted">This workflow takes no inputs.</p>}
        {inputs.map(([name, spec]) => {
          const s = spec ?? {};
          const id = `input-${name}`;
          const v = values[name];
          const set = (nv: string | boolean) => setValues({ ...values, [name]: nv });
          return (
            <div class="field" key={name}>
              <label for={id}>
                <code>{name}</code> <span class="muted small">{s.type ?? "string"}{s.required ? ", required" : ""}</span>
              </label>
              {s.type === "boolean" ? (
                <input id={id} name={name} type="checkbox" checked={v === true} onChange={(e) => set((e.target as HTMLInputElement).checked)} />
              ) : s.type === "object" || s.type === "array" ? (
                <textarea id={id} name={name} rows={3} value={String(v)} onInput={(e) => set((e.target as HTMLTextAreaElement).value)} />
              ) : (
                <input
                  id={id}
                  name={name}
                  type={s.type === "number" || s.type === "integer" ? "number" : "text"}
                  step="any"
                  value={String(v)}
                  onInput={(e) => set((e.target as HTMLInputElement).value)}
                />
              )}
              {s.description && <div class="muted small">{s.description}</div>}
            </div>
          );
        })}
        <ErrorBox error={error} title="Could not start the execution" />
        <div class="modal-actions">
          <button type="button" class="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" class="button primary" disabled={busy} data-action="start-run">
            {busy ? "Starting…" : "▶ Start execution"}
          </button>
        </div>
      </form>
    </div>
  );
}
