// Flowscope's web UI: the app shell (who is signed in, which workspace) and the routes.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get } from "./api";
import { ErrorBox } from "./components/Messages";
import { CallerContext } from "./context";
import { Compare } from "./pages/Compare";
import { Execution } from "./pages/Execution";
import { Home } from "./pages/Home";
import { Workflow } from "./pages/Workflow";
import { href, Link, paths, type Route, useRoute } from "./router";
import { type Caller, getToken, getWorkspace, setToken, setWorkspace } from "./session";
import "./styles.css";
import type { Workspace } from "./types";

function TokenPrompt({ failed, onToken }: { failed: string | null; onToken: (t: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <div class="page narrow">
      <form
        class="card token-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <h1>Sign in</h1>
        <p>
          This server requires an access token. Ask an admin for one, or create it with{" "}
          <code>flowscope token create --workspace default --role viewer</code>.
        </p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <p class="muted small">Kept for this browser tab only (sessionStorage); sent as a bearer token.</p>
        {failed && (
          <div class="error-box" role="alert">
            <strong>Not accepted</strong>
            <span>{failed}</span>
          </div>
        )}
        <button type="submit" class="button primary">
          Use this token
        </button>
      </form>
    </div>
  );
}

function WorkspaceSwitcher({ caller }: { caller: Caller }) {
  const [list, setList] = useState<Workspace[] | null>(null);
  // Listed when the user reaches for the switcher, not on every page load.
  const load = () => {
    if (list === null) get<Workspace[]>("/api/workspaces").then(setList, () => setList([]));
  };
  const current = caller.workspace_slug ?? caller.workspace_id;
  const options = list && list.length ? list : [{ id: caller.workspace_id, slug: current, name: caller.workspace_name ?? current }];
  return (
    <label class="inline-field workspace">
      <span class="muted">Workspace</span>
      <select
        name="workspace"
        value={current}
        onFocus={load}
        onPointerEnter={load}
        onChange={(e) => {
          // Ids belong to one workspace: start over on its home page.
          setWorkspace((e.target as HTMLSelectElement).value);
          window.location.assign(href(paths.home()));
        }}
      >
        {options.map((w) => (
          <option value={w.slug}>{w.name && w.name !== w.slug ? `${w.name} (${w.slug})` : w.slug}</option>
        ))}
      </select>
    </label>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "home":
      return <Home />;
    case "workflow":
      return <Workflow key={route.workflowId} workflowId={route.workflowId} />;
    case "execution":
      return <Execution key={route.executionId} executionId={route.executionId} stepId={route.stepId} />;
    case "compare":
      return <Compare key={`${route.a}/${route.b}`} a={route.a} b={route.b} />;
    default:
      return (
        <div class="page">
          <h1>Not found</h1>
          <p>
            No page at <code>{route.path}</code>. <Link to={paths.home()}>Go to the workflows</Link>.
          </p>
        </div>
      );
  }
}

type Session = { state: "loading" } | { state: "token"; failed: string | null } | { state: "error"; error: Error } | { state: "ready"; caller: Caller };

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session>({ state: "loading" });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    get<Caller>("/api/whoami").then(
      (caller) => setSession({ state: "ready", caller }),
      (err: Error) => {
        if (err instanceof ApiError && err.status === 401) {
          const had = getToken();
          setToken(null);
          setSession({ state: "token", failed: had ? err.detail : null });
        } else setSession({ state: "error", error: err });
      },
    );
  }, [attempt]);
  const caller = session.state === "ready" ? session.caller : null;
  return (
    <CallerContext.Provider value={caller}>
      <header class="topbar">
        <Link to={paths.home()} class="brand">
          <img src="/ui/favicon.svg" alt="" width={22} height={22} /> Flowscope
        </Link>
        <nav class="topnav">
          <Link to={paths.home()}>Workflows</Link>
          <a href="/docs">API docs</a>
        </nav>
        <div class="topbar-right">
          {caller && <WorkspaceSwitcher caller={caller} />}
          {caller && (
            <span class={`role role-${caller.role}`} title={caller.role === "viewer" ? "read-only: run and cancel are hidden" : "can run and cancel"}>
              {caller.role}
              {caller.role === "viewer" ? " · read-only" : ""}
            </span>
          )}
          {getToken() && (
            <button
              type="button"
              class="button small"
              onClick={() => {
                setToken(null);
                setAttempt(attempt + 1);
              }}
            >
              Sign out
            </button>
          )}
        </div>
      </header>
      <main>

        {session.state === "token" && (
          <TokenPrompt
            failed={session.failed}
            onToken={(t) => {
              setToken(t);
              setAttempt(attempt + 1);
            }}
          />
        )}
        {session.state === "error" && (
          <div class="page">
            <ErrorBox error={session.error} what="your session" />
            {getWorkspace() && (
              <button
                type="button"
                class="button"
                onClick={() => {
                  setWorkspace(null);
                  window.location.assign(paths.home());
                }}
              >
                Use my token's workspace instead
              </button>
            )}
          </div>
        )}
        {/* The page loads its data while the session is checked (one round trip less);
            a 401 then replaces it with the token prompt. */}
        {(caller || session.state === "loading") && <Page route={route} />}
      </main>
    </CallerContext.Provider>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
