/**
 * Runs async tasks one at a time, in the order they were pushed. Used where two callers
 * must not interleave: two joins creating the same room, a peer's commands, a subscribe
 * connection's renegotiations.
 */
export class AwaitQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Resolves (or rejects) with the task's own outcome once every earlier task is done. */
  push<T>(task: () => Promise<T> | T): Promise<T> {
    this.pending++;
    const run = this.tail.then(task, task);
    // The chain itself must never reject, or every later task would see the error.
    this.tail = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }

  get size(): number {
    return this.pending;
  }
}
