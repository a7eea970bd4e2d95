// A slot of the cap is held until the run is really gone, not just until the task's status is
// terminal: a worker that has committed its result may still be exiting, a cancelled Job's pod
// still terminating. Counting only statuses would let a fifth run start beside them.
// released_at is set by the controller when it sees that nothing runs for a terminal task.
export const name = "slot_release";

export const sql = `
ALTER TABLE tasks ADD COLUMN released_at timestamptz;
UPDATE tasks SET released_at = COALESCE(finished_at, now())
 WHERE status IN ('completed','failed','cancelled');
DROP INDEX tasks_active_idx;
CREATE INDEX tasks_slot_idx ON tasks (seq) WHERE admitted_at IS NOT NULL AND released_at IS NULL;
`;
