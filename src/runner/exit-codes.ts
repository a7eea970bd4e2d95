// The worker's exit codes: what a runner can tell from a run's end when the worker could not
// record it (src/worker.ts returns them; the runners and the Job's podFailurePolicy read them).
export const EXIT = {
  ok: 0,
  /** The training itself failed (recorded as training_failed): no retry of the pod helps. */
  failed: 1,
  usage: 2,
  /** The database refused the outcome's writes for longer than the worker's patience. */
  unrecorded: 3,
  /** Stopped by SIGTERM: the runner knows why (time limit, eviction). */
  terminated: 143,
} as const;
