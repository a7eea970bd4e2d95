// Retries: a task may ask for several attempts (params.max_attempts). A failed attempt with
// attempts left goes back to queued instead of failed, in the same guarded UPDATE that would
// have failed it (tasks/store.ts failTask), so no reader ever sees a "failed" that is undone.
// - attempt: the attempt the task is on (1-based).
// - previous_attempts: what each earlier attempt did ({attempt, started_at, finished_at,
//   error, runner_ref}); the status shows it.
// - not_before: set when an attempt fails with attempts left: admission skips the task until
//   then (the backoff). Admission clears it, so "queued, admitted, not_before set" means
//   "the failed attempt's run may still be ending": its slot is held until that run is gone.
export const name = "retries";

export const sql = `
ALTER TABLE tasks ADD COLUMN attempt int NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN previous_attempts jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE tasks ADD COLUMN not_before timestamptz;
-- The controller sleeps until the earliest backoff ends: this keeps that look-up small.
CREATE INDEX tasks_backoff_idx ON tasks (not_before)
  WHERE status = 'queued' AND admitted_at IS NULL AND not_before IS NOT NULL;
`;
