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
        'req.headers["webhook-signature"]',
        "headers.authorization",
        "*.headers.authorization",
        "databaseUrl",
        "config.databaseUrl",
        "*.password",
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
