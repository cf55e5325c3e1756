/**
 * The client side of netwasmd's control socket (what `netwasm ps`, `netwasm
 * ports`, `netwasm counters` and `netwasm ctl ...` use).
 *
 * ```ts
 * const ports = await control('ports');                        // default socket
 * await control('rm-container', { name: 'web' }, { socket: '/tmp/nw.sock' });
 * ```
 */
import { createConnection } from 'node:net';
import { ControlError, DEFAULT_SOCKET, LineSplitter, MAX_RESPONSE_BYTES, type ControlResponse } from './protocol.ts';

export interface ControlOptions {
  /** Socket path (default: $NETWASM_SOCKET, else DEFAULT_SOCKET). */
  socket?: string;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
}

/** The socket a client uses: the option, $NETWASM_SOCKET, or the default. */
export function socketPath(given?: string): string {
  return given || process.env['NETWASM_SOCKET'] || DEFAULT_SOCKET;
}

/** Thrown when nothing answers on the socket. */
export class DaemonUnreachableError extends Error {
  readonly socket: string;
  constructor(socket: string, cause: Error) {
    super(`Cannot connect to the netwasm daemon at unix://${socket}. Is netwasmd running? (${(cause as NodeJS.ErrnoException).code ?? cause.message})`, { cause });
    this.name = 'DaemonUnreachableError';
    this.socket = socket;
  }
}

/**
 * Sends raw request lines on one connection and returns the parsed
 * responses, one per line sent (for tests and tools).
 */
export function controlLines(lines: string[], opts: ControlOptions = {}): Promise<ControlResponse[]> {
  const path = socketPath(opts.socket);
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    const split = new LineSplitter(MAX_RESPONSE_BYTES);
    const out: ControlResponse[] = [];
    let connected = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlError('unavailable', `no answer from netwasmd at ${path} within ${opts.timeoutMs ?? 30000} ms`));
    }, opts.timeoutMs ?? 30000);
    const done = (e?: Error): void => {
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(out);
    };
    s.once('connect', () => {
      connected = true;
      s.write(lines.map((l) => `${l}\n`).join(''));
    });
    s.on('data', (chunk: Buffer) => {
      for (const line of split.push(chunk)) {
        try {
          out.push(JSON.parse(line) as ControlResponse);
        } catch {
          return done(new ControlError('internal', `netwasmd sent a malformed response: ${line.slice(0, 200)}`));
        }
        if (out.length === lines.length) return done();
      }
      if (split.overflowed) done(new ControlError('too-large', `response longer than ${MAX_RESPONSE_BYTES} bytes`));
    });
    s.on('error', (e) => done(connected ? e : new DaemonUnreachableError(path, e)));
    s.on('close', () => done());
  });
}

/** One request; resolves with its result, rejects with a ControlError carrying the daemon's code. */
export async function control(cmd: string, args?: Record<string, unknown>, opts: ControlOptions = {}): Promise<unknown> {
  const [r] = await controlLines([JSON.stringify({ id: 1, cmd, ...(args ? { args } : {}) })], opts);
  if (!r) throw new ControlError('internal', `netwasmd closed the connection without answering ${cmd}`);
  if (!r.ok) throw new ControlError(r.error.code, r.error.message, r.error.field);
  return r.result;
}
