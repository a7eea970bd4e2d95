// Retention: the leading controller deletes old finished work in small batches.
import { int, type Env } from "./env.js";

export interface RetentionConfig {
  /** Finished tasks, delivery records and received callbacks older than this go; 0 keeps all. */
  days: number;
  /** How often the leading controller runs a retention pass. */
  intervalSeconds: number;
  /** Rows deleted per transaction: short transactions, short locks. */
  batchSize: number;
  /** Pause between two batches, so that a large backlog is deleted without crowding out work. */
  batchPauseMs: number;
}

export function retentionConfig(env: Env): RetentionConfig {
  return {
    days: int(env, "TRAINYARD_RETENTION_DAYS", 30, 0, 36500),
    intervalSeconds: int(env, "TRAINYARD_RETENTION_INTERVAL_SECONDS", 3600, 1, 7 * 86400),
    batchSize: int(env, "TRAINYARD_RETENTION_BATCH_SIZE", 500, 1, 10000),
    batchPauseMs: int(env, "TRAINYARD_RETENTION_BATCH_PAUSE_MS", 100, 0, 60000),
  };
}
