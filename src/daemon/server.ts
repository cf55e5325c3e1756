/**
 * netwasmd's control socket: a Unix stream socket, mode 0600 (only its owner,
 * root, may connect), serving the line protocol of ./protocol.ts.
 *
 * One daemon per socket path: a lock file `PATH.lock` holds the owner's pid
 * (created exclusively); a second daemon on the same path refuses to start
 * while that pid lives or while something answers on the socket. A stale lock
 * or socket (its daemon died) is taken over. Both files go on close().
 *
 * Requests on one connection are answered in order; a handler may be async.
 * Handlers run on the event loop between data-plane vectors, so whatever they
 * change in the data plane's tables is never seen half-done by a vector.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync, existsSync, lstatSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  ControlError,
  errorBody,
  LineSplitter,
  MAX_REQUEST_BYTES,
  parseRequest,
  requestId,
  type ControlRequest,
  type ControlResponse,
} from './protocol.ts';

export interface ControlServerOptions {
  /** Socket path. */
  path: string;
  /** Answers one request (its result is the response's `result`). */
  handler: (req: ControlRequest) => unknown;
  /** Longest request line (default MAX_REQUEST_BYTES). */
  maxRequestBytes?: number;
  /** Most connections at once (default 64); more are told `busy` and closed. */
  maxClients?: number;
  /** A connection idle this long is closed (default 5 minutes). */
  idleMs?: number;
}

/** Is a process with this pid alive (or alive but not ours to signal)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Does something accept connections on `path`? */
function answers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });
}

export class ControlServer {
  readonly path: string;
  readonly lockPath: string;
  private readonly server: Server;
  private readonly clients = new Set<Socket>();
  private readonly opts: Required<Omit<ControlServerOptions, 'path' | 'handler'>> & Pick<ControlServerOptions, 'handler'>;
  private closed = false;
  /** Requests answered so far (malformed ones included). */
  requests = 0;

  private constructor(path: string, opts: ControlServerOptions) {
    this.path = path;
    this.lockPath = `${path}.lock`;
    this.opts = {
      handler: opts.handler,
      maxRequestBytes: opts.maxRequestBytes ?? MAX_REQUEST_BYTES,
      maxClients: opts.maxClients ?? 64,
      idleMs: opts.idleMs ?? 5 * 60_000,
    };
    this.server = createServer((s) => this.accept(s));
  }

  /**
   * Takes the lock, removes a stale socket, listens with mode 0600. Throws
   * ControlError('unavailable') if another daemon holds the path.
   */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    const srv = new ControlServer(opts.path, opts);
    await srv.start();
    return srv;
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let pid = 0;
      try {
        pid = Number(readFileSync(this.lockPath, 'utf8').trim());
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ControlError('unavailable', `another netwasmd (pid ${pid}) holds ${this.path}; stop it or use --socket PATH`);
      }
      try {
        unlinkSync(this.lockPath); // stale: its daemon is gone
      } catch {
        // someone else took it over first: the next round tells
      }
    }
    throw new ControlError('unavailable', `cannot take the lock ${this.lockPath}`);
  }

  private async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    this.lock();
    try {
      if (existsSync(this.path)) {
        if (!lstatSync(this.path).isSocket()) throw new ControlError('unavailable', `${this.path} exists and is not a socket`);
        if (await answers(this.path)) throw new ControlError('unavailable', `another daemon answers on ${this.path}`);
        unlinkSync(this.path);
      }
      // The socket is created with the umask's mode: none for group and others from the start.
      const old = process.umask(0o177);
      try {
        await new Promise<void>((res, rej) => {
          this.server.once('error', rej);
          this.server.listen(this.path, () => {
            this.server.off('error', rej);
            res();
          });
        });
      } finally {
        process.umask(old);
      }
      chmodSync(this.path, 0o600);
    } catch (e) {
      this.unlock();
      throw e;
    }
  }

  private unlock(): void {
    try {
      if (Number(readFileSync(this.lockPath, 'utf8').trim()) === process.pid) unlinkSync(this.lockPath);
    } catch {
      // already gone
    }
  }

  private accept(s: Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    if (this.clients.size >= this.opts.maxClients) {
      s.end(JSON.stringify({ id: null, ok: false, error: { code: 'busy', message: `too many connections (${this.opts.maxClients})` } }) + '\n');
      return;
    }
    this.clients.add(s);
    s.setTimeout(this.opts.idleMs, () => s.destroy());
    const split = new LineSplitter(this.opts.maxRequestBytes);
    let queue: Promise<void> = Promise.resolve();
    const send = (r: ControlResponse): void => {
      if (!s.destroyed && s.writable) s.write(JSON.stringify(r) + '\n');
    };
    s.on('data', (chunk: Buffer) => {
      const lines = split.push(chunk);
      for (const line of lines) {
        if (line.trim() === '') continue;
        queue = queue.then(() => this.answer(line).then(send));
      }
      if (split.overflowed) {
        queue = queue.then(() => {
          this.requests++;
          send({ id: null, ok: false, error: { code: 'too-large', message: `request longer than ${this.opts.maxRequestBytes} bytes` } });
          s.end();
        });
        s.pause();
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => this.clients.delete(s));
  }

  private async answer(line: string): Promise<ControlResponse> {
    this.requests++;
    let req: ControlRequest;
    try {
      req = parseRequest(line);
    } catch (e) {
      return { id: requestId(line), ok: false, error: errorBody(e) };
    }
    const id = req.id ?? null;
    try {
      const result = await this.opts.handler(req);
      return { id, ok: true, result: result ?? null };
    } catch (e) {
      return { id, ok: false, error: errorBody(e) };
    }
  }

  /** Stops listening, drops the connections, removes the socket and the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.clients) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (server.close removes it on some platforms)
    }
    this.unlock();
  }
}
