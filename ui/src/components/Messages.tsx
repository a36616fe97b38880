import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

/** An API or network error as a message (with the HTTP status and what was asked). */
export function ErrorBox({ error, what, title }: { error: Error | null; what?: string; title?: string }) {
  if (!error) return null;
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
  const detail = error instanceof ApiError ? error.detail : error.message;
  return (
    <div class="error-box" role="alert">
      <strong>{title ?? (what ? `Could not load ${what}` : "Something went wrong")}</strong>
      <span>
        {detail}
        {status}
      </span>
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading{what ? ` ${what}` : ""}…
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Card({ title, actions, children, id }: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={id}>
      {(title || actions) && (
        <header class="card-head">
          <h2>{title}</h2>
          <div class="card-actions">{actions}</div>
        </header>
      )}
      {children}
    </section>
  );
}
