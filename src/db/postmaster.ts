// Stale postmaster.pid handling for the embedded Postgres. A lock file left by a killed run
// makes the server refuse to start whenever its pid is alive, even if that pid now belongs to
// an unrelated process (pids get reused quickly in containers).
import { existsSync } from "node:fs";
import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface PostmasterLog {
  warn(obj: object, msg?: string): void;
}

/** What the pid in a postmaster.pid is now: nothing of ours, an orphaned or an owned server. */
async function postmasterState(pid: number): Promise<"gone" | "orphan" | "owned"> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return "gone";
  }
  // Linux only; elsewhere assume a live pid is a real owner and let the user sort it out.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (cmdline === undefined || stat === undefined) return existsSync("/proc") ? "gone" : "owned";
  if (!cmdline.includes("postgres")) return "gone"; // the pid was reused by something else
  // Fields after the ")" that closes the command name: state, ppid, ...
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  // Our servers are children of a Node process. Once that dies the server is reparented to
  // init or a subreaper (systemd --user, tini), so "parent is not node" means orphaned.
  const parent = await readFile(`/proc/${ppid}/cmdline`, "utf8").catch(() => "");
  return /(^|\/)node\0/.test(parent) ? "owned" : "orphan";
}

// Remove the lock file when its pid is gone or now belongs to something else; stop an orphaned postmaster (its parent, our
// previous run, died); refuse when a live process still owns the cluster.
export async function clearStalePostmaster(dataDir: string, log: PostmasterLog): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const state = await postmasterState(pid);
  if (state === "gone") {
    log.warn({ stalePid: pid }, "removing stale postmaster.pid from a previous run");
    await unlink(pidFile).catch(() => undefined);
    return;
  }
  if (state === "owned") {
    throw new Error(`Postgres (pid ${pid}) is already running on ${dataDir} for another process`);
  }
  log.warn({ orphanPid: pid }, "stopping an orphaned Postgres left by a previous run");
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 150 && (await postmasterState(pid)) !== "gone"; i++) await sleep(100);
  if ((await postmasterState(pid)) !== "gone") process.kill(pid, "SIGKILL");
}
