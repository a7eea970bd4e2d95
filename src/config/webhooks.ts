// Webhook deliveries (the controller's dispatcher signs and sends them, the webhook API checks
// callback URLs against the policy) and the demo webhook client (it verifies the signatures and
// asks the webhook server to train).
import { tokens } from "./access.js";
import { ConfigError, bool, httpUrl, int, list, oneOf, type Env } from "./env.js";

export interface WebhookConfig {
  /** Standard Webhooks secrets (whsec_<base64>); every one signs, so receivers can rotate. */
  signingSecrets: string[];
  maxAttempts: number;
  backoff: "fixed" | "exponential";
  /** Fixed delay, or the first delay of the exponential schedule. */
  backoffSeconds: number;
  backoffMaxSeconds: number;
  timeoutSeconds: number;
  /** Refuse loopback and private addresses too (link-local and metadata are always refused). */
  blockPrivate: boolean;
  /** Hosts that stay allowed when blockPrivate is set (cluster-internal receivers). */
  allowedHosts: string[];
  /** How many deliveries one dispatcher sends at once. */
  concurrency: number;
  /** The webhook client: its own public callback URL and the webhook server it asks to train. */
  clientPublicUrl: string;
  serverUrl: string;
  /** The bearer token the webhook client sends to the webhook server (when that has auth on). */
  serverToken: string | undefined;
}

function signingSecrets(env: Env): string[] {
  const secrets = list(env, "TRAINYARD_WEBHOOK_SIGNING_SECRETS");
  for (const secret of secrets) {
    const key = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : "";
    // Never echo the value: it is a secret.
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, "base64").length < 16) {
      throw new ConfigError(
        "TRAINYARD_WEBHOOK_SIGNING_SECRETS",
        "each secret must be whsec_ followed by at least 16 bytes of base64",
      );
    }
  }
  return secrets;
}

function serverToken(env: Env): string | undefined {
  const [token, ...more] = tokens(env, "TRAINYARD_WEBHOOK_SERVER_TOKEN");
  if (more.length > 0) throw new ConfigError("TRAINYARD_WEBHOOK_SERVER_TOKEN", "takes one token");
  return token;
}

export function webhookConfig(env: Env): WebhookConfig {
  const backoffSeconds = int(env, "TRAINYARD_WEBHOOK_BACKOFF_SECONDS", 2, 0, 3600);
  return {
    signingSecrets: signingSecrets(env),
    maxAttempts: int(env, "TRAINYARD_WEBHOOK_MAX_ATTEMPTS", 3, 1, 100),
    backoff: oneOf(env, "TRAINYARD_WEBHOOK_BACKOFF", ["fixed", "exponential"] as const, "fixed"),
    backoffSeconds,
    backoffMaxSeconds: int(
      env,
      "TRAINYARD_WEBHOOK_BACKOFF_MAX_SECONDS",
      Math.max(300, backoffSeconds),
      backoffSeconds,
      86400,
    ),
    timeoutSeconds: int(env, "TRAINYARD_WEBHOOK_TIMEOUT_SECONDS", 10, 1, 600),
    blockPrivate: bool(env, "TRAINYARD_WEBHOOK_BLOCK_PRIVATE", false),
    allowedHosts: list(env, "TRAINYARD_WEBHOOK_ALLOWED_HOSTS").map((h) => h.toLowerCase()),
    concurrency: int(env, "TRAINYARD_WEBHOOK_CONCURRENCY", 16, 1, 1000),
    clientPublicUrl: httpUrl(env, "TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL", "http://localhost:8006"),
    serverUrl: httpUrl(env, "TRAINYARD_WEBHOOK_SERVER_URL", "http://localhost:8005"),
    serverToken: serverToken(env),
  };
}
