// GET /train/{id}/logs on the naive, polling and webhook apps: the worker's output, as plain
// text. At most tail_bytes of its end (TRAINYARD_LOG_TAIL_BYTES by default, at most
// TRAINYARD_LOG_MAX_TAIL_BYTES). With follow=true, a chunked stream: that tail, then what the
// run writes, ending when the task ends. The end is known from the task's NOTIFY (waitForEnd),
// not from polling its status.
//
// With the Kubernetes runner, reading pods' logs is opt-in (it needs the API pods to hold a
// Kubernetes token): when it is off, every request answers 501 logs_disabled, saying what to set.
//
// A task with no log: while it may still write one (queued, running), 200 with an empty body
// (with follow, the stream waits for the log to appear); once it has ended, 404 log_not_found
// (it never ran, or its log is gone: a Job deleted after its TTL). Unknown task: 404
// task_not_found.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { LogUnavailableError, type LogSource } from "../runner/logs.js";
import { isTerminal } from "../tasks/status.js";
import type { Task } from "../tasks/task.js";
import { waitForEnd } from "../tasks/waiter.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import { excludeFromLatency } from "./metrics-route.js";
import { taskIdParams } from "./schemas.js";
import { mustGetTask } from "./task-routes.js";

const TEXT = "text/plain; charset=utf-8";
/** setTimeout's ceiling: a follow lasts until the task ends, however long it queues. */
const FOREVER_MS = 2 ** 31 - 1;

export function logsQuery(maxTailBytes: number, defaultTailBytes: number) {
  return {
    type: "object",
    additionalProperties: false,
    properties: {
      tail_bytes: {
        type: "integer",
        minimum: 0,
        maximum: maxTailBytes,
        description: `at most this many bytes of the log's end (default ${defaultTailBytes}); a cut inside a line starts at the next line`,
      },
      follow: {
        type: "boolean",
        default: false,
        description: "stream the log (chunked text/plain) until the task ends",
      },
    },
  } as const;
}

/** What the operator sets to turn pod-log reading on; the chart's value grants the RBAC too. */
const LOGS_DISABLED_DETAIL =
  "Reading the training pods' logs is off in this deployment. To serve them, set " +
  "TRAINYARD_KUBERNETES_POD_LOGS=true; with the Helm chart, set logs.podLogAccess=true, which " +
  "also gives the API pods a read-only Role on pods and pods/log and a token to use it.";

export function registerLogs(app: FastifyInstance, ctx: AppContext): void {
  const source = ctx.logs;
  const { tailBytes: defaultTail, maxTailBytes } = ctx.config.logs;
  app.get<{ Params: { id: string }; Querystring: { tail_bytes?: number; follow: boolean } }>(
    "/train/:id/logs",
    {
      schema: {
        summary: "The worker's output (the end of it), or a stream of it until the task ends",
        description:
          "200 text/plain: the last tail_bytes of the log; empty while the task has not written " +
          "any yet. 404 log_not_found: the task has ended and has no log (it never ran, or the " +
          "log is gone). With follow=true: a chunked stream of the tail and then of new output, " +
          "which ends when the task ends. 501 logs_disabled: this deployment does not read the " +
          "training pods' logs (Kubernetes runner with TRAINYARD_KUBERNETES_POD_LOGS off).",
        tags: ["tasks"],
        params: taskIdParams,
        querystring: logsQuery(maxTailBytes, defaultTail),
        produces: ["text/plain"],
        response: {
          200: {
            description: "the log's text",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    async (request, reply) => {
      // Before the task is looked up: the answer is the same for every task.
      if (!source) throw new ApiError("logs_disabled", LOGS_DISABLED_DETAIL);
      const task = await mustGetTask(ctx, request.params.id);
      const tail = request.query.tail_bytes ?? defaultTail;
      void reply.header("cache-control", "no-store");
      if (!request.query.follow || isTerminal(task.status)) {
        const data = await unavailableAs503(ctx, () => source.tail(task, tail));
        if (data === undefined && isTerminal(task.status)) {
          throw new ApiError("log_not_found", `Task ${task.id} is ${task.status} and has no log`, {
            task_id: task.id,
            task_status: task.status,
          });
        }
        return reply.type(TEXT).send(data ?? Buffer.alloc(0));
      }
      excludeFromLatency(request);
      return follow(ctx, source, task, tail, reply);
    },
  );
}

function follow(
  ctx: AppContext,
  source: LogSource,
  task: Task,
  tail: number,
  reply: FastifyReply,
): FastifyReply {
  const gone = new AbortController();
  reply.raw.once("close", () => gone.abort());
  const signal = AbortSignal.any([gone.signal, ctx.shutdown]);
  // Subscribed before the follow starts, so an end between our read and now is not missed.
  const ended = new Promise<void>((resolve) => {
    void waitForEnd(ctx.sql, ctx.events, task, FOREVER_MS, signal).then((outcome) => {
      if (outcome.kind === "finished") resolve();
    });
  });
  const stream = new PassThrough();
  const write = async (chunk: Buffer): Promise<void> => {
    if (!stream.write(chunk)) await once(stream, "drain", { signal });
  };
  source
    .follow(task, tail, write, { ended, signal })
    .catch((err: unknown) => {
      // The status line has gone out: all that is left is to end the stream, and say why here.
      if (!signal.aborted) reply.log.warn({ err, task_id: task.id }, "log follow ended early");
    })
    .finally(() => {
      // Its headers went out before the shutdown began, so they promised keep-alive: close the
      // connection once the last chunk is out, or the server would wait for it to idle out.
      // (The response lets go of its socket before "finish" reaches us: hold on to it here.)
      const socket = reply.raw.socket;
      if (ctx.shutdown.aborted) reply.raw.once("finish", () => socket?.destroySoon());
      stream.end();
    });
  // A proxy (nginx) must pass the chunks on as they come, not buffer the whole answer.
  return reply.type(TEXT).header("x-accel-buffering", "no").send(stream);
}

async function unavailableAs503<T>(ctx: AppContext, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof LogUnavailableError) {
      throw new ApiError("log_unavailable", err.message, {}, ctx.config.retryAfterSeconds);
    }
    throw err;
  }
}
