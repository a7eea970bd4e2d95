// A scriptable webhook receiver on loopback: each path answers from its own script (status,
// headers, delay, or a hang), and every arrival is recorded with its time, headers and body.
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export interface Arrival {
  path: string;
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Step {
  status?: number;
  headers?: Record<string, string>;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Never answer (until the receiver closes). */
  hang?: boolean;
  body?: string;
}

export class Receiver {
  readonly arrivals: Arrival[] = [];
  private readonly scripts = new Map<string, Step[]>();
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | undefined;
  private waiters: (() => void)[] = [];

  /** Answers for `path`, one per arrival; the last one repeats. Default: 200. */
  script(path: string, steps: Step[]): void {
    this.scripts.set(path, [...steps]);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "/";
        this.arrivals.push({
          path,
          at: Date.now(),
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        for (const wake of this.waiters.splice(0)) wake();
        const script = this.scripts.get(path) ?? [];
        const step = (script.length > 1 ? script.shift() : script[0]) ?? {};
        if (step.hang) {
          this.hanging.add(res);
          return;
        }
        setTimeout(() => {
          res.writeHead(step.status ?? 200, { "content-type": "text/plain", ...step.headers });
          res.end(step.body ?? "ok");
        }, step.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
  }

  url(path: string): string {
    const { port } = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  at(path: string): Arrival[] {
    return this.arrivals.filter((a) => a.path === path);
  }

  /** Resolves once `path` has received `count` requests. */
  async waitFor(path: string, count: number, timeoutMs = 20_000): Promise<Arrival[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.at(path).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${path}: ${this.at(path).length} of ${count} arrivals in time`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.at(path);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
