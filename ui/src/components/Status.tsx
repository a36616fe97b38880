import { statusOf } from "../format";

/** A status as icon + word on a tinted badge: readable without colour. */
export function StatusBadge({ status, title }: { status: string | null | undefined; title?: string }) {
  const s = statusOf(status);
  return (
    <span class={`badge st-${s.label}`} title={title ?? s.label} data-status={s.label}>
      <span class="badge-icon" aria-hidden="true">
        {s.icon}
      </span>
      {s.label}
    </span>
  );
}
