// A task's statuses and the one table of allowed transitions. Every status write in the code
// goes through `fromStatuses`, so a transition not listed here cannot happen.

export const STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type Status = (typeof STATUSES)[number];

export const TERMINAL: readonly Status[] = ["completed", "failed", "cancelled"];

/** to <- the statuses it may be reached from. A cancelled task can never become completed. */
const TRANSITIONS: Record<Status, readonly Status[]> = {
  // Only a failed attempt with attempts left goes back to queued (store.failTask).
  queued: ["queued", "running"],
  running: ["queued"],
  completed: ["running"],
  failed: ["queued", "running"],
  cancelled: ["queued", "running"],
};

export function fromStatuses(to: Status): readonly Status[] {
  return TRANSITIONS[to];
}

export function isTerminal(status: Status): boolean {
  return TERMINAL.includes(status);
}

export function isStatus(value: unknown): value is Status {
  return typeof value === "string" && (STATUSES as readonly string[]).includes(value);
}
