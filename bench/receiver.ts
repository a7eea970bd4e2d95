// The webhook receiver of the benchmarks, in its own process: answers 200 at once and records
// each arrival's wall-clock time (sub-millisecond) with the task id of its body.
//   GET /arrivals        -> [{ id, at }]   (at: ms since the epoch, fractional)
//   GET /count           -> { count }
//   POST /reset          -> forgets every arrival
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 0);
let arrivals: { id: string; at: number }[] = [];

const now = (): number => performance.timeOrigin + performance.now();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const at = now();
    const path = req.url ?? "/";
    if (req.method === "GET" && path === "/livez") return reply(200, { status: "ok" });
    if (req.method === "GET" && path === "/count") return reply(200, { count: arrivals.length });
    if (req.method === "GET" && path === "/arrivals") return reply(200, arrivals);
    if (req.method === "POST" && path === "/reset") {
      arrivals = [];
      return reply(200, { ok: true });
    }
    let id = "?";
    try {
      id = String((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: unknown }).id);
    } catch {
      // recorded as "?"
    }
    arrivals.push({ id, at });
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  function reply(status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
