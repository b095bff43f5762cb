/**
 * What a run learns on the way that its record needs when it ends before
 * its result: the instance a restore told none found at its location (a
 * consumed or refused restore ends inside core's prepare, before the
 * command sees a plan). The host guard, which prepare hands every instance
 * it locks (cli-options.ts `guardFrom`), notes it in the facts of the run in
 * progress: an AsyncLocalStorage set by `execute`, so no command passes it on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RunFacts {
  /** The instance the run locked (the last one, for a run that locks several). */
  instance?: number;
}

const current = new AsyncLocalStorage<RunFacts>();

/** Runs `body` with `facts` as the facts of the run in progress. */
export function withRunFacts<T>(facts: RunFacts, body: () => T): T {
  return current.run(facts, body);
}

/** Called by the host guard as it locks `instance` (outside a run: nothing). */
export function noteRunInstance(instance: number): void {
  const facts = current.getStore();
  if (facts) facts.instance = instance;
}
