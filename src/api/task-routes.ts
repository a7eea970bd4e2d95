// The task routes the apps share: submit, status, result, cancel, list. Each app registers
// the ones its pattern offers (the polling app all of them).
import { isDeepStrictEqual } from "node:util";
import type { FastifyInstance, FastifyReply } from "fastify";
import { modelOf } from "../models/store.js";
import { isTerminal, type Status } from "../tasks/status.js";
import { getTask, insertTask, listTasks, queuePosition, transition } from "../tasks/store.js";
import type { Task, TaskParams } from "../tasks/task.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import {
  idempotencyHeaders,
  listQuery,
  taskIdParams,
  taskStatusSchema,
  trainBody,
} from "./schemas.js";
import { resultPath, statusPath, taskView } from "./task-view.js";

export interface TrainRequestBody {
  duration_seconds?: number;
  timeout_seconds?: number;
  max_attempts?: number;
  retry_backoff_seconds?: number;
  retry_on_timeout?: boolean;
  callback_url?: string;
}

export async function submitTask(
  ctx: AppContext,
  app: string,
  body: TrainRequestBody | undefined,
  idempotencyKey: string | undefined,
): Promise<{ task: Task; replayed: boolean }> {
  const params = taskParams(ctx, body);
  const callbackUrl = body?.callback_url;
  const result = await insertTask(ctx.sql, { app, params, idempotencyKey, callbackUrl });
  if (
    result.replayed &&
    (result.task.app !== app ||
      !isDeepStrictEqual(result.task.params, params) ||
      result.task.callbackUrl !== (callbackUrl ?? null))
  ) {
    throw new ApiError("idempotency_key_reused", undefined, {
      field: "Idempotency-Key",
      task_id: result.task.id,
    });
  }
  return result;
}

/** The stored parameters, defaults filled in. Retry settings only when retries were asked. */
function taskParams(ctx: AppContext, body: TrainRequestBody | undefined): TaskParams {
  const params: TaskParams = {
    duration_seconds: body?.duration_seconds ?? ctx.config.defaultDurationSeconds,
    timeout_seconds: body?.timeout_seconds ?? ctx.config.defaultTimeoutSeconds,
  };
  const maxAttempts = body?.max_attempts ?? 1;
  if (maxAttempts > 1) {
    params.max_attempts = maxAttempts;
    params.retry_backoff_seconds =
      body?.retry_backoff_seconds ?? ctx.config.defaultRetryBackoffSeconds;
    params.retry_on_timeout = body?.retry_on_timeout ?? false;
  }
  return params;
}

/** 202 + Location + Retry-After: the answer of every route that accepts without finishing. */
export function accepted(reply: FastifyReply, ctx: AppContext, task: Task): FastifyReply {
  return reply
    .code(202)
    .header("location", statusPath(task.id))
    .header("retry-after", String(ctx.config.retryAfterSeconds))
    .send({
      ...taskView(task),
      links: { status: statusPath(task.id), result: resultPath(task.id) },
    });
}

export async function mustGetTask(ctx: AppContext, id: string): Promise<Task> {
  const task = await getTask(ctx.sql, id);
  if (!task) throw new ApiError("task_not_found", `No task with id ${id}`, { field: "id" });
  return task;
}

export async function resultBody(ctx: AppContext, task: Task): Promise<Record<string, unknown>> {
  if (task.status !== "completed") {
    const code = isTerminal(task.status) ? "task_not_completed" : "task_not_finished";
    const retry = isTerminal(task.status) ? undefined : ctx.config.retryAfterSeconds;
    throw new ApiError(
      code,
      `Task ${task.id} is ${task.status}`,
      { task_status: task.status, task_id: task.id },
      retry,
    );
  }
  const model = await modelOf(ctx.sql, task.id);
  if (!model) throw new ApiError("task_not_completed", `Task ${task.id} has no stored model`);
  return { ...taskView(task), result: model.summary };
}

export async function cancelTask(ctx: AppContext, id: string): Promise<Task> {
  // Two tries: a task that moved between our read and our write is read again, never forced.
  for (let attempt = 0; attempt < 3; attempt++) {
    const task = await mustGetTask(ctx, id);
    if (task.status === "cancelled") return task;
    if (isTerminal(task.status)) {
      throw new ApiError("task_already_finished", `Task ${id} is already ${task.status}`, {
        task_status: task.status,
      });
    }
    const cancelled = await transition(ctx.sql, id, "cancelled", {
      error: { code: "cancelled", message: "cancelled by request" },
    });
    if (cancelled) return cancelled;
  }
  return mustGetTask(ctx, id);
}

export function registerTaskReads(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { id: string } }>(
    "/train/:id/status",
    {
      schema: {
        summary: "A task's status",
        tags: ["tasks"],
        params: taskIdParams,
        response: { 200: taskStatusSchema },
      },
    },
    async (request, reply) => {
      const task = await mustGetTask(ctx, request.params.id);
      if (!isTerminal(task.status))
        reply.header("retry-after", String(ctx.config.retryAfterSeconds));
      if (task.status !== "queued") return taskView(task);
      const position = await queuePosition(ctx.sql, task);
      return {
        ...taskView(task),
        queue_position: position.ahead,
        queue_position_exact: position.exact,
      };
    },
  );
  app.get<{ Params: { id: string } }>(
    "/train/:id/result",
    { schema: { summary: "The model of a completed task", tags: ["tasks"], params: taskIdParams } },
    async (request) => resultBody(ctx, await mustGetTask(ctx, request.params.id)),
  );
}

export interface SubmitOptions {
  /** The body schema; the polling app's by default. */
  body?: Record<string, unknown>;
  summary?: string;
  /** Runs after validation, before the task is stored: may refuse with an ApiError. */
  check?: (body: TrainRequestBody) => Promise<void>;
}

export function registerSubmitAccepted(
  app: FastifyInstance,
  ctx: AppContext,
  appName: string,
  options: SubmitOptions = {},
): void {
  app.post<{ Body: TrainRequestBody | undefined; Headers: { "idempotency-key"?: string } }>(
    "/train",
    {
      schema: {
        summary: options.summary ?? "Submit a training task; answers 202 at once",
        tags: ["tasks"],
        body: options.body ?? trainBody(ctx.config),
        headers: idempotencyHeaders,
      },
    },
    async (request, reply) => {
      await options.check?.(request.body ?? {});
      const { task, replayed } = await submitTask(
        ctx,
        appName,
        request.body,
        request.headers["idempotency-key"],
      );
      request.log.info({ task_id: task.id, replayed }, "task accepted");
      if (replayed) reply.header("idempotent-replayed", "true");
      return accepted(reply, ctx, task);
    },
  );
}

export function registerCancel(app: FastifyInstance, ctx: AppContext): void {
  app.delete<{ Params: { id: string } }>(
    "/train/:id",
    {
      schema: { summary: "Cancel a queued or running task", tags: ["tasks"], params: taskIdParams },
    },
    async (request) => {
      const task = await cancelTask(ctx, request.params.id);
      request.log.info({ task_id: task.id }, "task cancelled");
      return taskView(task);
    },
  );
}

export function registerList(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: { status?: Status; limit: number; cursor?: string } }>(
    "/train",
    { schema: { summary: "Tasks, newest first", tags: ["tasks"], querystring: listQuery } },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const beforeSeq = cursor === undefined ? undefined : decodeCursor(cursor);
      const tasks = await listTasks(ctx.sql, { status, beforeSeq, limit: limit + 1 });
      const page = tasks.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(taskView),
        next_cursor: tasks.length > limit && last ? encodeCursor(last.seq) : null,
      };
    },
  );
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString("base64url");
}

function decodeCursor(cursor: string): number {
  const match = /^s(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match)
    throw new ApiError("validation_failed", "cursor is not one this API gave", { field: "cursor" });
  return Number(match[1]);
}
