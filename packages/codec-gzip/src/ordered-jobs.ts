/**
 * Jobs on libuv's thread pool (zlib deflates and inflates) whose results
 * must leave in the order the jobs started, and whose stream may only emit
 * 'close' once none still runs (a job may read memory that is freed, or
 * shared memory that is detached, as soon as the pipeline has closed). The
 * encoder and the piece decoder share it.
 */
export class OrderedJobs<T> {
  #running = 0;
  #emitted = 0;
  readonly #finished = new Map<number, T>();
  #whenIdle: (() => void)[] = [];

  /** Jobs started whose callback has not run yet. */
  get running(): number {
    return this.#running;
  }

  /** Results handed out so far (the index of the next one to hand out). */
  get emitted(): number {
    return this.#emitted;
  }

  started(): void {
    this.#running += 1;
  }

  /** A job ended; `result` is undefined when it failed or its result is no longer wanted. Wakes idle waiters. */
  ended(index: number, result: T | undefined): void {
    this.#running -= 1;
    if (result !== undefined) this.#finished.set(index, result);
    if (this.#running === 0) {
      const waiters = this.#whenIdle;
      this.#whenIdle = [];
      for (const waiter of waiters) waiter();
    }
  }

  /** The results now ready, in start order, each handed out once. */
  *ready(): Generator<T> {
    for (let next = this.#finished.get(this.#emitted); next !== undefined; next = this.#finished.get(this.#emitted)) {
      this.#finished.delete(this.#emitted);
      this.#emitted += 1;
      yield next;
    }
  }

  /** Drops finished results and calls `callback` once no job runs. */
  stop(callback: () => void): void {
    this.#finished.clear();
    if (this.#running === 0) callback();
    else this.#whenIdle.push(callback);
  }
}
