// A workflow's live event feed (spec "WebSocket Events"), kept open: on a drop it
// reconnects with ?since= (the last timestamp seen minus a few seconds) and drops the
// event ids it has already delivered, as the README recommends.
import { feedUrl } from "./api";
import type { LiveEvent } from "./types";

export type FeedState = "connecting" | "live" | "reconnecting" | "closed";

export function openFeed(
  workflowId: string,
  onEvent: (event: LiveEvent) => void,
  onState: (state: FeedState, reason?: string) => void = () => {},
): () => void {
  let socket: WebSocket | null = null;
  let stopped = false;
  let lastTimestamp: string | undefined;
  let retryMs = 500;
  let timer: number | undefined;
  const seen = new Set<string>();

  const connect = (): void => {
    const since = lastTimestamp ? new Date(Date.parse(lastTimestamp) - 5000).toISOString() : undefined;
    onState(since ? "reconnecting" : "connecting");
    socket = new WebSocket(feedUrl(workflowId, since));
    socket.onopen = () => {
      retryMs = 500;
      onState("live");
    };
    socket.onmessage = (message) => {
      let event: LiveEvent;
      try {
        event = JSON.parse(String(message.data)) as LiveEvent;
      } catch {
        return;
      }
      if (event.event === "replay_complete" || !event.data) return;
      const id = event.data.event_id;
      if (id) {
        if (seen.has(id)) return;
        seen.add(id);
        if (seen.size > 20000) seen.clear();
      }
      if (event.data.timestamp && (!lastTimestamp || event.data.timestamp > lastTimestamp)) {
        lastTimestamp = event.data.timestamp;
      }
      onEvent(event);
    };
    socket.onclose = (close) => {
      if (stopped) return;
      if (close.code === 1008) {
        // Access refused (bad token, another workspace's workflow): retrying will not help.
        onState("closed", close.reason || "access refused");
        return;
      }
      if (!lastTimestamp) lastTimestamp = new Date(Date.now() - 1000).toISOString();
      onState("reconnecting", close.reason);
      timer = window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  };
  connect();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    socket?.close(1000);
  };
}
