// The webhook dispatcher asks "when does the next pending delivery become claimable?" (due and
// not leased by a live dispatcher) whenever it runs out of due work, to set its timer. Without
// an index on that very expression the min() read every pending row: on a backlog of N
// deliveries, O(N) per delivery. With it, the min() is the first entry of this index.
// The expression must stay exactly the one nextClaimableAt() (src/webhooks/outbox.ts) computes,
// or the planner will not use it.
// Plain CREATE INDEX (migrations run in a transaction): it blocks writes to the table while it
// builds, which on the pending rows of an outbox takes moments.
export const name = "webhook_next_claimable";

export const sql = `
CREATE INDEX webhook_deliveries_claimable_idx ON webhook_deliveries
  ((GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))))
  WHERE state = 'pending';
`;
