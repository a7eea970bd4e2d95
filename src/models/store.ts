// Stored models. A model is only ever written together with its task's move to completed, in
// one transaction: a cancelled or failed task can never leave a model behind.
import type { Pool, Queryable } from "../db/queryable.js";
import type { ModelSummary } from "../training/fit.js";
import { transition } from "../tasks/store.js";

export interface StoredModel {
  taskId: string;
  seq: number;
  summary: ModelSummary;
  createdAt: Date;
}

/** Returns false when the task was no longer running (cancelled meanwhile): nothing stored. */
export async function completeWithModel(
  sql: Pool,
  taskId: string,
  summary: ModelSummary,
): Promise<boolean> {
  return sql.begin(async (tx) => {
    const done = await transition(tx, taskId, "completed");
    if (!done) return false;
    await tx`
      INSERT INTO models (task_id, summary) VALUES (${taskId}, ${JSON.stringify(summary)}::text::json)`;
    return true;
  });
}

interface ModelRow {
  task_id: string;
  seq: string | number;
  summary: ModelSummary;
  created_at: Date;
}

function toModel(row: ModelRow): StoredModel {
  return {
    taskId: row.task_id,
    seq: Number(row.seq),
    summary: row.summary,
    createdAt: row.created_at,
  };
}

/** The newest model of a completed task: the one predictions use. */
export async function latestModel(sql: Queryable): Promise<StoredModel | undefined> {
  const rows = await sql<ModelRow[]>`
    SELECT m.task_id, t.seq, m.summary, m.created_at
    FROM models m JOIN tasks t ON t.id = m.task_id
    WHERE t.status = 'completed'
    ORDER BY m.created_at DESC, t.seq DESC
    LIMIT 1`;
  return rows[0] ? toModel(rows[0]) : undefined;
}

export async function modelOf(sql: Queryable, taskId: string): Promise<StoredModel | undefined> {
  const rows = await sql<ModelRow[]>`
    SELECT m.task_id, t.seq, m.summary, m.created_at
    FROM models m JOIN tasks t ON t.id = m.task_id
    WHERE m.task_id = ${taskId}`;
  return rows[0] ? toModel(rows[0]) : undefined;
}
