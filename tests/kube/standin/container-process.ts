// One container as a local process: its own process group (detached), so stopping it reaches
// everything it started, as a container's PID namespace does; stdout and stderr interleaved
// into its log. When the main process ends, whatever it left behind in its group is killed,
// as the runtime tears down a container whose PID 1 exited.
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { LogBuffer } from "./log-buffer.js";

export interface ContainerExit {
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (the runtime's StartError). */
  startError?: string;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export class ContainerProcess {
  readonly log = new LogBuffer();
  readonly startedAt = new Date();
  readonly pid: number | undefined;
  readonly exited: Promise<ContainerExit>;
  exit: ContainerExit | undefined;
  private readonly child: ChildProcess;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(argv: string[], cwd: string, env: Record<string, string>) {
    const [command = "", ...args] = argv;
    const executable = command === "node" ? process.execPath : command;
    this.child = spawn(executable, args, {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding("utf8").on("data", (d: string) => this.log.append(d));
    this.child.stderr?.setEncoding("utf8").on("data", (d: string) => this.log.append(d));
    this.exited = new Promise<ContainerExit>((resolve) => {
      let exit: ContainerExit | undefined;
      const finish = (): void => {
        if (!exit || this.exit) return;
        if (this.killTimer) clearTimeout(this.killTimer);
        this.exit = exit;
        this.log.close();
        resolve(exit);
      };
      this.child.once("error", (err: NodeJS.ErrnoException) => {
        if (this.pid !== undefined && err.code !== "ENOENT" && err.code !== "EACCES") return;
        exit = { exitCode: 128, signal: null, startError: startErrorMessage(command, err) };
        finish();
      });
      this.child.once("exit", (code, signal) => {
        exit = { exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal };
        if (this.pid !== undefined) signalGroup(this.pid, "SIGKILL");
        // Output still in the pipes belongs to the log: wait for them to close, briefly.
        setTimeout(finish, 500).unref();
      });
      this.child.once("close", finish);
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.pid !== undefined && this.running) signalGroup(this.pid, signal);
  }

  /** SIGTERM now, SIGKILL once `graceMs` passed (at once for 0), as the kubelet stops a container. */
  stop(graceMs: number): Promise<ContainerExit> {
    if (!this.running) return this.exited;
    if (graceMs <= 0) {
      this.signal("SIGKILL");
      return this.exited;
    }
    this.signal("SIGTERM");
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    this.killTimer.unref();
    return this.exited;
  }
}

function startErrorMessage(command: string, err: NodeJS.ErrnoException): string {
  const why =
    err.code === "ENOENT"
      ? `exec: "${command}": executable file not found in $PATH`
      : `exec: "${command}": permission denied`;
  return (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: " +
    `runc create failed: unable to start container process: ${why}: unknown`
  );
}
