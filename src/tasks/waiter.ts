// Waiting for a task to end, woken by NOTIFY rather than a polling loop. The subscription is
// taken before the first read, so a change that lands between the two is never missed; after
// a reconnect of the listener the task is read again, since notifications may have been lost.
import type { Queryable } from "../db/queryable.js";
import type { TaskEvents } from "./events.js";
import { isTerminal } from "./status.js";
import { getTask } from "./store.js";
import type { Task } from "./task.js";

export type WaitOutcome =
  | { kind: "finished"; task: Task }
  | { kind: "timeout"; task: Task }
  | { kind: "aborted"; task: Task };

export async function waitForEnd(
  sql: Queryable,
  events: TaskEvents,
  task: Task,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<WaitOutcome> {
  if (isTerminal(task.status)) return { kind: "finished", task };
  let latest = task;
  let settle: (outcome: WaitOutcome) => void = () => undefined;
  const done = new Promise<WaitOutcome>((resolve) => (settle = resolve));
  let reading = false;
  let again = false;

  const reread = (): void => {
    // One read at a time; an event during a read asks for one more, so none goes unseen.
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    again = false;
    getTask(sql, task.id)
      .then((fresh) => {
        if (fresh) latest = fresh;
        if (fresh && isTerminal(fresh.status)) settle({ kind: "finished", task: fresh });
      })
      // A failed read (database away) is retried on the next event or reconnect.
      .catch(() => undefined)
      .finally(() => {
        reading = false;
        if (again) reread();
      });
  };

  const offChange = events.onChange((change) => {
    if (change.id === task.id && isTerminal(change.status)) reread();
  });
  const offListen = events.onListen(reread);
  const timer = setTimeout(() => settle({ kind: "timeout", task: latest }), timeoutMs);
  const onAbort = (): void => settle({ kind: "aborted", task: latest });
  signal?.addEventListener("abort", onAbort, { once: true });
  reread();
  try {
    return await done;
  } finally {
    clearTimeout(timer);
    offChange();
    offListen();
    signal?.removeEventListener("abort", onAbort);
  }
}
