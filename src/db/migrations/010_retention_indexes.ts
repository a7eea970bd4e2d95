// Indexes for the retention passes (src/controller/retention.ts): each batch finds the oldest
// finished rows through them instead of scanning a table. Partial, so that they hold only rows
// retention may ever delete and cost nothing for the queue's hot rows.
// Plain CREATE INDEX (migrations run in a transaction, where CONCURRENTLY is not allowed): it
// blocks writes to the table while it builds, which on these tables takes seconds at most.
export const name = "retention_indexes";

export const sql = `
CREATE INDEX tasks_finished_idx ON tasks (finished_at)
  WHERE status IN ('completed','failed','cancelled');
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at)
  WHERE state <> 'pending';
CREATE INDEX webhook_callbacks_received_idx ON webhook_callbacks (received_at);
`;
