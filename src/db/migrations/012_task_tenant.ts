// Tenants (src/tenants/): every task belongs to one. Without TRAINYARD_TENANTS there is one
// implicit tenant, "default", so rows written before this migration and rows written by a
// service with no tenants configured are the same thing. The name is validated at start-up
// (^[a-z0-9][a-z0-9-]{0,62}$), so a text column without a check is enough here.
export const name = "task_tenant";

export const sql = `
ALTER TABLE tasks ADD COLUMN tenant text NOT NULL DEFAULT 'default';
`;
