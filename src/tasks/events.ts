// LISTEN/NOTIFY for task changes. One listening connection per process fans every change out
// to the subscribers in it (naive waiters, the model cache, the controller). A trigger sends
// the notification in the transaction that changes the status (see the migrations).
// postgres.js re-listens by itself after a lost connection; because notifications sent while
// we were away are gone, subscribers are told about every (re)connect and re-read state then.
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import { isStatus, type Status } from "./status.js";

export const TASK_CHANNEL = "trainyard_task";

export interface TaskChange {
  id: string;
  seq: number;
  status: Status;
}

type ChangeListener = (change: TaskChange) => void;
type ListenListener = () => void;

export class TaskEvents {
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly listenListeners = new Set<ListenListener>();
  private unlisten: (() => Promise<void>) | undefined;
  private listening = false;

  constructor(
    private readonly sql: Pool,
    private readonly log: Logger,
  ) {}

  /** Resolves once the first LISTEN is in place; later reconnects happen in the background. */
  async start(): Promise<void> {
    const meta = await this.sql.listen(
      TASK_CHANNEL,
      (payload) => this.dispatch(payload),
      () => {
        // Called on the first LISTEN and after every reconnect.
        if (this.listening) this.log.info("task events: listening again after reconnect");
        this.listening = true;
        for (const fn of this.listenListeners) this.safely(() => fn());
      },
    );
    this.unlisten = () => meta.unlisten();
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    if (unlisten) await unlisten().catch(() => undefined);
  }

  onChange(fn: ChangeListener): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Called after each (re)connect of the listening connection: notifications may be missed. */
  onListen(fn: ListenListener): () => void {
    this.listenListeners.add(fn);
    return () => this.listenListeners.delete(fn);
  }

  private dispatch(payload: string): void {
    const change = parseChange(payload);
    if (!change) {
      this.log.warn({ payload }, "task events: ignoring malformed notification");
      return;
    }
    for (const fn of this.changeListeners) this.safely(() => fn(change));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, "task events: a listener threw");
    }
  }
}

function parseChange(payload: string): TaskChange | undefined {
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    if (typeof value.id !== "string" || !isStatus(value.status)) return undefined;
    return { id: value.id, seq: Number(value.seq), status: value.status };
  } catch {
    return undefined;
  }
}
