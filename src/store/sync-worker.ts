// A synchronous call into an asynchronous worker thread: the caller posts a request and blocks on
// Atomics.wait until the worker's answer is in, then takes it with receiveMessageOnPort (the
// technique of synckit). It lets an asynchronous driver (PostgreSQL's) sit behind the store's
// synchronous API. One call at a time; the worker answers them in order.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

/**
 * The worker's side, around `handlerSource`: the body of a function of (require, data) that returns
 * `async (request) => answer`. It is run as a CommonJS script (`eval` worker), so it needs no build
 * step of its own: the same text works from src/ under the tests and from dist/.
 */
function workerScript(handlerSource: string): string {
  return `'use strict';
const { workerData } = require('node:worker_threads');
const { port, signal, data } = workerData;
const flag = new Int32Array(signal);
let handle, loadError;
try { handle = (function (require, data) { ${handlerSource}\n })(require, data); } catch (err) { loadError = err; }
const describe = (err) => err instanceof Error
  ? { message: err.message, name: err.name, code: err.code, detail: err.detail, constraint: err.constraint }
  : { message: String(err) };
port.on('message', async (request) => {
  let answer;
  try {
    if (loadError) throw loadError;
    answer = { ok: true, value: await handle(request) };
  } catch (err) {
    answer = { ok: false, error: describe(err) };
  }
  port.postMessage(answer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;
}

type Answer = { ok: true; value: unknown } | { ok: false; error: { message: string; name?: string; code?: string; detail?: string; constraint?: string } };

/** An error the worker's handler threw, with its code (a PostgreSQL SQLSTATE, say) kept. */
export class WorkerCallError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly detail: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerCallError';
  }
}

export class SyncWorker {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #flag: Int32Array;
  #broken: string | null = null;

  /**
   * @param timeoutMs how long a call may block before the worker is given up (it is then ended
   *   and every later call fails): a last resort behind the handler's own timeouts.
   */
  constructor(
    handlerSource: string,
    data: unknown,
    private readonly timeoutMs: number,
  ) {
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    this.#flag = new Int32Array(signal);
    this.#port = port1;
    this.#worker = new Worker(workerScript(handlerSource), { eval: true, workerData: { port: port2, signal, data }, transferList: [port2] });
    // Neither keeps the process alive: the owner closes the worker, and a forgotten one must not hang an exit.
    this.#worker.unref();
    this.#port.unref();
    this.#worker.on('error', () => {}); // reported to the blocked caller as a timeout or a broken worker
  }

  get closed(): boolean {
    return this.#broken !== null;
  }

  /** Sends `request` and blocks until the answer; throws what the handler threw (as WorkerCallError). */
  call(request: unknown): unknown {
    if (this.#broken !== null) throw new Error(this.#broken);
    Atomics.store(this.#flag, 0, 0);
    this.#port.postMessage(request);
    if (Atomics.wait(this.#flag, 0, 0, this.timeoutMs) === 'timed-out') {
      this.terminate(`no answer in ${this.timeoutMs / 1000} s`);
      throw new Error(`the database worker gave no answer in ${this.timeoutMs / 1000} s; the connection is closed`);
    }
    const answer = receiveMessageOnPort(this.#port)?.message as Answer | undefined;
    if (answer === undefined) {
      this.terminate('the worker woke without an answer');
      throw new Error('the database worker woke without an answer; the connection is closed');
    }
    if (answer.ok) return answer.value;
    const { message, code, detail, constraint } = answer.error;
    throw new WorkerCallError(message, code, detail, constraint);
  }

  /** Ends the worker at once; later calls throw `reason`. */
  terminate(reason = 'the connection is closed'): void {
    if (this.#broken !== null) return;
    this.#broken = reason;
    void this.#worker.terminate();
    this.#port.close();
  }
}
