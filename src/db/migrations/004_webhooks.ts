// Webhook outbox and what the webhook client receives.
// - A trigger inserts the delivery when a task with a callback_url becomes terminal: the row is
//   written by the very transaction that makes the task terminal, whoever wrote it (worker,
//   controller, cancel), so a crash between the two cannot lose a callback.
// - The delivery id is the Standard Webhooks message id: stable across every attempt.
// - Dispatchers claim rows with FOR UPDATE SKIP LOCKED and hold a lease (locked_by,
//   locked_until); each attempt first bumps `attempts` under that lease (a fencing token), so two
//   replicas never send the same attempt.
// - webhook_callbacks is the webhook client's inbox, keyed by the webhook-id it received.
export const name = "webhooks";

export const sql = `
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  url text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','succeeded','failed','gone')),
  attempts int NOT NULL DEFAULT 0,
  max_attempts int,                       -- null: the dispatcher's configured number
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_task_idx ON webhook_deliveries (task_id, created_at);

CREATE TABLE webhook_attempts (
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt int NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms int NOT NULL,
  status_code int,
  error text,
  outcome text NOT NULL CHECK (outcome IN ('succeeded','retry','failed','gone')),
  PRIMARY KEY (delivery_id, attempt)
);

CREATE FUNCTION trainyard_enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (task_id, url) VALUES (NEW.id, NEW.callback_url);
  PERFORM pg_notify('trainyard_webhook', NEW.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_enqueue_webhook AFTER UPDATE OF status ON tasks
  FOR EACH ROW
  WHEN (NEW.callback_url IS NOT NULL
        AND NEW.status IN ('completed','failed','cancelled')
        AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION trainyard_enqueue_webhook();

CREATE TABLE webhook_callbacks (
  webhook_id text PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  verified boolean NOT NULL,
  body json NOT NULL                      -- json, not jsonb: kept as it arrived
);
`;
