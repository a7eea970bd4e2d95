// Task change notifications and the indexes the queries use.
// - A trigger sends NOTIFY trainyard_task on every insert and status change, in the same
//   transaction as the change, so no writer (API, controller, worker) can forget to announce.
// - Lists page on seq (keyset), newest first: the unique index on seq serves the unfiltered
//   list, (status, seq) the filtered one; the latest model is found by its creation time.
export const name = "task_events";

export const sql = `
CREATE FUNCTION trainyard_notify_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('trainyard_task',
    json_build_object('id', NEW.id, 'status', NEW.status, 'seq', NEW.seq)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks
  FOR EACH ROW EXECUTE FUNCTION trainyard_notify_task();
CREATE TRIGGER tasks_notify_status AFTER UPDATE OF status ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION trainyard_notify_task();

DROP INDEX tasks_list_idx;
DROP INDEX tasks_status_list_idx;
CREATE INDEX tasks_status_seq_idx ON tasks (status, seq DESC);
CREATE INDEX models_created_idx ON models (created_at DESC);
`;
