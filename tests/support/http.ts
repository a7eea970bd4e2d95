// Plain HTTP on loopback, as a client would send it.
export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function call<T = Record<string, unknown>>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface TaskBody {
  id: string;
  status: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error?: { code: string; message: string };
  [key: string]: unknown;
}

/** Polls the status route until the task reaches one of `statuses` (tests only). */
export async function waitForStatus(
  base: string,
  id: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<TaskBody> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskBody | undefined;
  while (Date.now() < deadline) {
    const res = await call<TaskBody>("GET", `${base}/train/${id}/status`);
    last = res.body;
    if (res.status === 200 && statuses.includes(res.body.status)) return res.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} did not reach ${statuses.join("/")}: last ${JSON.stringify(last)}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
