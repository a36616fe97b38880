// Client-side routes. The server answers the same page for each of these paths, so a
// URL can be reloaded or shared; ?workspace=<slug> travels with links.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getWorkspace } from "./session";

export type Route =
  | { page: "home" }
  | { page: "workflow"; workflowId: string }
  | { page: "execution"; executionId: string; stepId?: string }
  | { page: "compare"; a: string; b: string }
  | { page: "notfound"; path: string };

const dec = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export function parse(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(dec);
  if (parts.length === 0) return { page: "home" };
  if (parts[0] === "workflows" && parts.length === 2) return { page: "workflow", workflowId: parts[1] };
  if (parts[0] === "executions" && parts.length === 2) return { page: "execution", executionId: parts[1] };
  if (parts[0] === "executions" && parts.length === 4 && parts[2] === "steps")
    return { page: "execution", executionId: parts[1], stepId: parts[3] };
  if (parts[0] === "executions" && parts.length === 4 && parts[2] === "compare")
    return { page: "compare", a: parts[1], b: parts[3] };
  return { page: "notfound", path: pathname };
}

const e = encodeURIComponent;
export const paths = {
  home: () => "/",
  workflow: (id: string) => `/workflows/${e(id)}`,
  execution: (id: string) => `/executions/${e(id)}`,
  step: (id: string, step: string) => `/executions/${e(id)}/steps/${e(step)}`,
  compare: (a: string, b: string) => `/executions/${e(a)}/compare/${e(b)}`,
};

/** A path with the current workspace, so the link works for whoever opens it. */
export function href(path: string): string {
  const ws = getWorkspace();
  return ws ? `${path}?workspace=${e(ws)}` : path;
}

const CHANGE = "flowscope:navigate";

export function navigate(path: string, replace = false): void {
  const target = href(path);
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  window.dispatchEvent(new Event(CHANGE));
  if (!replace) window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parse(location.pathname));
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return route;
}

type LinkProps = { to: string; children: ComponentChildren } & Omit<JSX.HTMLAttributes<HTMLAnchorElement>, "href">;

export function Link({ to, children, ...rest }: LinkProps) {
  const onClick = (ev: MouseEvent) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    navigate(to);
  };
  return (
    <a href={href(to)} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
