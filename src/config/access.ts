// Who may call the APIs: bearer tokens (full access and read-only) and the proxies whose
// X-Forwarded-For is believed. Tokens are secrets: their values are never echoed in an error.
import { isIP } from "node:net";
import { ConfigError, list, type Env } from "./env.js";

// RFC 6750's token68 alphabet; 16 characters at least, so that a token cannot be guessed.
const TOKEN = /^[A-Za-z0-9._~+/-]{16,512}=*$/;

export function tokens(env: Env, name: string): string[] {
  const values = list(env, name);
  if (values.some((t) => !TOKEN.test(t))) {
    throw new ConfigError(
      name,
      "each token must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + / (then any =)",
    );
  }
  return values;
}

/** TRAINYARD_API_TOKENS (full access) and TRAINYARD_API_READ_TOKENS; both empty: no auth. */
export function apiTokens(env: Env): { full: string[]; read: string[] } {
  const full = tokens(env, "TRAINYARD_API_TOKENS");
  const read = tokens(env, "TRAINYARD_API_READ_TOKENS");
  if (read.some((t) => full.includes(t))) {
    throw new ConfigError("TRAINYARD_API_READ_TOKENS", "a token cannot be read-only and full too");
  }
  return { full, read };
}

/** Addresses or CIDR ranges, e.g. TRAINYARD_TRUST_PROXY. */
export function proxies(env: Env, name: string): string[] {
  const values = list(env, name);
  for (const value of values) {
    const [address = "", prefix, ...rest] = value.split("/");
    const version = isIP(address);
    const bits = version === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (version === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(name, `must be IP addresses or CIDR ranges, got "${value}"`);
    }
  }
  return values;
}
