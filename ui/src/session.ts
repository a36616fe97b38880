// Who is using the UI: the token (kept for this browser session only) and the chosen
// workspace. The workspace is also put in links (?workspace=slug) so they can be shared.

const TOKEN_KEY = "flowscope.token";
const WORKSPACE_KEY = "flowscope.workspace";

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// A link that names a workspace (?workspace=slug) chooses it for this tab.
const fromUrl = new URLSearchParams(location.search).get("workspace");
if (fromUrl) sessionStorage.setItem(WORKSPACE_KEY, fromUrl);

/** The workspace slug chosen (by a link or the switcher) in this tab; null = the server's default. */
export function getWorkspace(): string | null {
  return sessionStorage.getItem(WORKSPACE_KEY);
}

export function setWorkspace(slug: string | null): void {
  if (slug) sessionStorage.setItem(WORKSPACE_KEY, slug);
  else sessionStorage.removeItem(WORKSPACE_KEY);
}

export interface Caller {
  workspace_id: string;
  workspace_slug: string | null;
  workspace_name: string | null;
  role: "viewer" | "editor" | "admin";
  auth_required: boolean;
}

export const canWrite = (caller: Caller | null): boolean => caller !== null && caller.role !== "viewer";
