// Core schema: tasks and the models they produce. Forward-only: never edit an applied
// migration, add a new numbered file instead.
export const name = "core";

export const sql = `
CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,          -- admission order, advisory-lock key of the running worker
  status text NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled')),
  app text NOT NULL,                                     -- which API pattern submitted it: naive | polling | webhook
  params jsonb NOT NULL DEFAULT '{}'::jsonb,             -- e.g. {"duration_seconds": 5}
  idempotency_key text UNIQUE,
  callback_url text,
  error jsonb,                                           -- {"code": "...", "message": "..."} when failed/cancelled
  runner_ref text,                                       -- pid or Job name once launched
  created_at timestamptz NOT NULL DEFAULT now(),
  admitted_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_queue_idx ON tasks (seq) WHERE status = 'queued' AND admitted_at IS NULL;
CREATE INDEX tasks_active_idx ON tasks (seq) WHERE status = 'running' OR (status = 'queued' AND admitted_at IS NOT NULL);
CREATE INDEX tasks_list_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_list_idx ON tasks (status, created_at DESC, id DESC);
CREATE TABLE models (
  task_id uuid PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
  summary jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;
