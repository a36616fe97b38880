// REST and WebSocket access to this server's API. The token goes in the Authorization
// header (REST) or ?token= (WebSockets, which browsers cannot give headers); the
// workspace in X-Workspace-Slug or ?workspace_slug=.
import { getToken, getWorkspace } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly path: string,
  ) {
    super(status ? `${detail} (HTTP ${status})` : detail);
  }
}

function headers(json: boolean): Record<string, string> {
  const out: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) out.Authorization = `Bearer ${token}`;
  const workspace = getWorkspace();
  if (workspace) out["X-Workspace-Slug"] = workspace;
  if (json) out["Content-Type"] = "application/json";
  return out;
}

function detailOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      // FastAPI validation errors: [{loc, msg}, ...]
      return detail
        .map((d) => (d && typeof d === "object" ? `${(d.loc ?? []).join(".")}: ${d.msg ?? ""}` : String(d)))
        .join("; ");
    }
  }
  return fallback;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${String(err)}`, path);
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, detailOf(parsed, text.slice(0, 300) || response.statusText), path);
  return parsed as T;
}

export const get = <T>(path: string): Promise<T> => request<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => request<T>("POST", path, body);

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

/** ws(s)://this-host/ws/workflows/{id}?token=&workspace_slug=&since= */
export function feedUrl(workflowId: string, since?: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params: Record<string, string> = {};
  const token = getToken();
  if (token) params.token = token;
  const workspace = getWorkspace();
  if (workspace) params.workspace_slug = workspace;
  if (since) params.since = since;
  return `${scheme}//${location.host}/ws/workflows/${enc(workflowId)}${query(params)}`;
}
