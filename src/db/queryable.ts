// What store functions take: a pool, a reserved connection or a transaction alike, so the
// same guarded statement can run alone or inside a caller's transaction.
import type postgres from "postgres";

export type Queryable = postgres.ISql;
export type Pool = postgres.Sql;
