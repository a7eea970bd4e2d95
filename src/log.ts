// pino, JSON to stdout. Anything that could carry a secret is redacted at the source, so a
// password in a URL or a token in a header never reaches a log line.
// Only exact paths: pino compiles each one into a direct property check, while a wildcard
// ("*.password") makes it walk the keys of every object logged, on every line.
import { pino, type Logger } from "pino";

export function createLogger(level: string, name: string): Logger {
  return pino({
    level,
    name,
    base: { app: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        // Request headers, should a request or its headers ever be logged (fastify's own
        // serialiser logs none; the one request line of src/api/server.ts neither).
        "req.headers.authorization",
        "req.headers.cookie",
        'req.headers["idempotency-key"]',
        'req.headers["webhook-signature"]',
        "headers.authorization",
        "headers.cookie",
        'headers["webhook-signature"]',
        "request.headers.authorization",
        "err.headers.authorization",
        // The database URL and passwords, wherever the code names them.
        "databaseUrl",
        "config.databaseUrl",
        "password",
        "options.password",
        "err.password",
        // The settings that hold secrets, should a config object ever be logged.
        "apiTokens",
        "apiReadTokens",
        "signingSecrets",
        "serverToken",
        "config.apiTokens",
        "config.apiReadTokens",
        "config.webhooks.signingSecrets",
        "config.webhooks.serverToken",
        "webhooks.signingSecrets",
        "webhooks.serverToken",
      ],
      censor: "[redacted]",
    },
  });
}
