// pino, JSON to stdout. Anything that could carry a secret is redacted at the source, so a
// password in a URL or a token in a header never reaches a log line.
import { pino, type Logger } from "pino";

export function createLogger(level: string, name: string): Logger {
  return pino({
    level,
    name,
    base: { app: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        'req.headers["idempotency-key"]',
        "databaseUrl",
        "config.databaseUrl",
        "*.password",
      ],
      censor: "[redacted]",
    },
  });
}
