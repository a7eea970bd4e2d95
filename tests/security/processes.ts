// Starting several app processes for one suite: one after the other (starting many at once on a
// busy machine can outlast startApp's readiness wait), each recorded as soon as it runs, so that
// the suite's after() stops every one that started even when a later one fails to.
import { startApp, type AppProcess, type StartOptions } from "../support/app-process.js";

export class Processes {
  readonly all: AppProcess[] = [];

  async start(app: string, opts: StartOptions): Promise<AppProcess> {
    const proc = await startApp(app, opts);
    this.all.push(proc);
    return proc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop()));
  }
}
