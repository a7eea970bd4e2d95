// Watching a task without polling: GET /train/{id}/wait long-polls until the task ends (or a
// bounded timeout), GET /train/{id}/events streams its changes as Server-Sent Events. Both ride
// on the process's one LISTEN connection (TaskEvents), so thousands of watchers cost a
// listener each, not a query loop each.
import type { FastifyInstance } from "fastify";
import { isTerminal } from "../tasks/status.js";
import { getTask } from "../tasks/store.js";
import type { Task } from "../tasks/task.js";
import { waitForEnd } from "../tasks/waiter.js";
import type { AppContext } from "./context.js";
import { taskIdParams, taskStatusSchema } from "./schemas.js";
import { mustGetTask } from "./task-routes.js";
import { taskView } from "./task-view.js";

/** The longest a long-poll is held, whatever the client asks: proxies cut idle requests. */
export const MAX_WAIT_SECONDS = 60;
const HEARTBEAT_MS = 15_000;

const waitQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    timeout: { type: "integer", minimum: 0, maximum: MAX_WAIT_SECONDS, default: 30 },
  },
} as const;

const eventsHeaders = {
  type: "object",
  properties: { "last-event-id": { type: "string", pattern: "^[0-9]{1,9}$" } },
} as const;

export function registerTaskWatch(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { id: string }; Querystring: { timeout: number } }>(
    "/train/:id/wait",
    {
      schema: {
        summary: "Wait until the task ends (at most `timeout` seconds), then answer its status",
        tags: ["tasks"],
        params: taskIdParams,
        querystring: waitQuery,
        response: { 200: taskStatusSchema },
      },
    },
    async (request, reply) => {
      const task = await mustGetTask(ctx, request.params.id);
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      const outcome = await waitForEnd(
        ctx.sql,
        ctx.events,
        task,
        request.query.timeout * 1000,
        AbortSignal.any([gone.signal, ctx.shutdown]),
      );
      if (!isTerminal(outcome.task.status)) {
        reply.header("retry-after", String(ctx.config.retryAfterSeconds));
      }
      return taskView(outcome.task);
    },
  );

  app.get<{ Params: { id: string }; Headers: { "last-event-id"?: string } }>(
    "/train/:id/events",
    {
      schema: {
        summary:
          "The task's status and progress as Server-Sent Events, ending after the terminal one",
        tags: ["tasks"],
        params: taskIdParams,
        headers: eventsHeaders,
      },
    },
    async (request, reply) => {
      const first = await mustGetTask(ctx, request.params.id);
      const resumeFrom = Number(request.headers["last-event-id"] ?? 0);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        // Proxies such as nginx must not buffer the stream.
        "x-accel-buffering": "no",
      });
      let sent = resumeFrom;
      let lastStatus: string | undefined;
      let reading = false;
      let again = false;
      let ended = false;

      const end = (): void => {
        if (ended) return;
        ended = true;
        offChange();
        offListen();
        clearInterval(heartbeat);
        ctx.shutdown.removeEventListener("abort", end);
        res.end();
      };
      const send = (task: Task): void => {
        if (task.version > sent) {
          const event =
            lastStatus === undefined || lastStatus !== task.status ? "status" : "progress";
          res.write(
            `id: ${task.version}\nevent: ${event}\ndata: ${JSON.stringify(taskView(task))}\n\n`,
          );
          sent = task.version;
        }
        lastStatus = task.status;
        if (isTerminal(task.status)) end();
      };
      // One read at a time; a change during a read asks for one more.
      const reread = (): void => {
        if (ended) return;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        again = false;
        getTask(ctx.sql, first.id)
          .then((task) => task && send(task))
          .catch((err: unknown) => request.log.warn({ err }, "events: read failed; waiting"))
          .finally(() => {
            reading = false;
            if (again) reread();
          });
      };
      const offChange = ctx.events.onChange((change) => {
        if (change.id === first.id) reread();
      });
      // After a reconnect of the listener notifications may be lost: read again.
      const offListen = ctx.events.onListen(reread);
      const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
      heartbeat.unref();
      res.once("close", end);
      ctx.shutdown.addEventListener("abort", end, { once: true });
      // The subscription is in place: now the first read (a change in between is not lost).
      reread();
    },
  );
}
