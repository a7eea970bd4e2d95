// A write that must not be lost to a short database outage: tried again, with backoff, while
// the database is unavailable (restarting, read-only, out of disk) and the patience lasts. Used
// by the worker for the writes that carry a run's outcome: losing one would throw away a
// finished training, or leave its task for the controller to fail with a vaguer reason.
import pRetry from "p-retry";
import type { Logger } from "pino";
import { classifyPgError } from "./connect.js";

export async function withPatience<T>(
  what: string,
  write: () => Promise<T>,
  opts: { patienceMs: number; log: Logger },
): Promise<T> {
  return pRetry(write, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 250,
    maxTimeout: 5000,
    factor: 2,
    maxRetryTime: opts.patienceMs,
    shouldRetry: ({ error }) => classifyPgError(error).retryable,
    onFailedAttempt: ({ error, attemptNumber }) => {
      const { code } = classifyPgError(error);
      opts.log.warn({ err: error, code, attempt: attemptNumber }, `could not ${what}; will retry`);
    },
  });
}
