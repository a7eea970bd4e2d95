// Server-Sent Events as a test reads them: the whole stream, parsed into events.
import assert from "node:assert/strict";
import type { TaskBody } from "./http.js";

export interface SseEvent {
  id: number;
  event: string;
  data: TaskBody & { progress: { phase: string; fraction: number } | null };
}

/** Reads a whole SSE stream (it ends after the terminal event), parsing each event. */
export async function readEvents(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await res.text(); // resolves when the server ends the stream
  return text
    .split("\n\n")
    .filter((block) => block.includes("data: "))
    .map((block) => {
      const field = (name: string): string =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? "";
      return {
        id: Number(field("id")),
        event: field("event"),
        data: JSON.parse(field("data")) as SseEvent["data"],
      };
    });
}
