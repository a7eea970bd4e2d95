// Progress and a per-task version.
// - progress: the worker's phase and fraction done ({"phase": "fitting", "fraction": 0.8}),
//   written only while the task runs, so a progress write can never undo a cancel.
// - version: bumped by the database on every status or progress change; it is the id of the
//   task's Server-Sent Events, so a client resuming with Last-Event-ID gets only what is newer.
// - Progress changes are announced on trainyard_task too (same payload, status unchanged).
export const name = "progress";

export const sql = `
ALTER TABLE tasks ADD COLUMN progress jsonb;
ALTER TABLE tasks ADD COLUMN version int NOT NULL DEFAULT 1;

CREATE FUNCTION trainyard_task_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;

CREATE TRIGGER tasks_version BEFORE UPDATE OF status, progress ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                     OR OLD.progress IS DISTINCT FROM NEW.progress)
  EXECUTE FUNCTION trainyard_task_version();

CREATE TRIGGER tasks_notify_progress AFTER UPDATE OF progress ON tasks
  FOR EACH ROW WHEN (OLD.progress IS DISTINCT FROM NEW.progress
                     AND OLD.status IS NOT DISTINCT FROM NEW.status)
  EXECUTE FUNCTION trainyard_notify_task();
`;
