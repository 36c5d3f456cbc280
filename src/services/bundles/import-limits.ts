/**
 * How much of the machine bundle imports may take at once (issue 8, item 4: three imports of a
 * 780 KB zip peaked at 3.4 GB and stalled the API). Entries are streamed to disk, so what an import
 * holds in memory is the zip it was sent and the JSON records it parses; these bound both.
 */
import { unavailable } from '../../shared/domain/index.js';

/**
 * A counting semaphore, first come first served: a request waits until everything before it has
 * gone through and its `n` units fit. With `maxWaiting`, a request that would wait behind that many
 * others is refused at once by `refuse()` instead.
 */
export class Semaphore {
  private used = 0;
  private readonly queue: { n: number; go: () => void }[] = [];

  constructor(
    readonly capacity: number,
    private readonly maxWaiting = Number.POSITIVE_INFINITY,
    private readonly refuse: () => Error = () => unavailable('too many requests are waiting'),
  ) {}

  /** Runs `fn` holding `n` units (at most the capacity). */
  async use<T>(n: number, fn: () => Promise<T>): Promise<T> {
    if (n > this.capacity) throw new Error(`asked for ${n} units of ${this.capacity}`);
    if (this.queue.length === 0 && this.used + n <= this.capacity) this.used += n;
    else {
      if (this.queue.length >= this.maxWaiting) throw this.refuse();
      await new Promise<void>((go) => this.queue.push({ n, go }));
    }
    try {
      return await fn();
    } finally {
      this.used -= n;
      this.wake();
    }
  }

  private wake(): void {
    while (this.queue.length && this.used + this.queue[0].n <= this.capacity) {
      const next = this.queue.shift()!;
      this.used += next.n;
      next.go();
    }
  }
}

/**
 * Imports unpack one at a time. Unpacking is CPU work (inflating on zlib's thread, hashing on the
 * event loop's) and disk for the files; a second one at once would finish no sooner on a small
 * machine, double the staging space and take the core the event loop needs to keep answering
 * (three at once on 2 busy cores let app.info wait 0.6 s). The next ones wait in line, and past that
 * the lab says it is busy rather than hold their zips in memory.
 */
export const IMPORT_CONCURRENCY = 1;
export const IMPORT_QUEUE = 4;
export const importSlots = new Semaphore(IMPORT_CONCURRENCY, IMPORT_QUEUE, () =>
  unavailable(
    `${IMPORT_CONCURRENCY + IMPORT_QUEUE} bundle imports are under way or waiting; try again when one has finished`,
  ),
);

/**
 * Writing into the store goes one import at a time, so an import of a bundle already being
 * imported sees the first one's experiments and adds nothing, as a second import always does.
 */
export const applySlot = new Semaphore(1);

/**
 * JSON records (manifest, parameter sets, an experiment's spec, record and log) are parsed in
 * memory; larger entries (weights, metrics.csv) are streamed. A record may be 32 MiB (an
 * experiment.json of 10,001 runs is 4.7 MB), and the bytes of records being read and parsed
 * by all imports together stay within the same 32 MiB: parsed, a record takes several times its
 * size, and that is what a hostile bundle could otherwise multiply.
 */
export const MAX_RECORD_BYTES = 32 * 1024 * 1024;
export const recordMemory = new Semaphore(MAX_RECORD_BYTES);
