/**
 * The control protocol between `netwasm` (the client) and `netwasmd`: one
 * JSON object per line over a Unix stream socket, requests and responses in
 * order on a connection.
 *
 * ```
 * > {"id":1,"cmd":"ports"}
 * < {"id":1,"ok":true,"result":[{"port":"c1/eth0","id":2,...}]}
 * > {"id":2,"cmd":"rm-container","args":{"name":"nope"}}
 * < {"id":2,"ok":false,"error":{"code":"not-found","message":"No such container: nope"}}
 * ```
 *
 * A request is `{"id"?: string|number|null, "cmd": string, "args"?: object}`;
 * `id` is echoed back. A line longer than {@link MAX_REQUEST_BYTES} gets a
 * `too-large` error and the connection is closed (the rest of the line cannot
 * be told from the next request); any other malformed line gets a
 * `bad-request` error and the connection stays open.
 */
import { isNetworkError, type ErrorCategory } from '../cnm/errors.ts';
import { isScenarioError } from '../scenario/errors.ts';

/** Where netwasmd listens unless told otherwise (`--socket`, NETWASM_SOCKET). */
export const DEFAULT_SOCKET = '/run/netwasm/netwasmd.sock';

/** Longest request line, newline excluded. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Longest response line a client accepts. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * Error codes: libnetwork's categories for errors of the model (a name in
 * use, no such container, ...), then the protocol's own.
 */
export type ControlErrorCode =
  | ErrorCategory
  | 'bad-request'
  | 'too-large'
  | 'unknown-command'
  | 'busy';

export interface ControlRequest {
  id?: string | number | null;
  cmd: string;
  args?: Record<string, unknown>;
}

export type ControlResponse =
  | { id: string | number | null; ok: true; result: unknown }
  | { id: string | number | null; ok: false; error: { code: ControlErrorCode; message: string; field?: string } };

/** An error with a protocol code, on either side of the socket. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  readonly field: string | undefined;
  constructor(code: ControlErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
    this.field = field;
  }
}

/** The wire form of any error a handler threw. */
export function errorBody(e: unknown): { code: ControlErrorCode; message: string; field?: string } {
  if (e instanceof ControlError) return { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) };
  if (isNetworkError(e)) return { code: e.category, message: e.message, ...(e.field ? { field: e.field } : {}) };
  if (isScenarioError(e)) return { code: e.category ?? 'invalid-parameter', message: e.message };
  // The data plane cannot hold the topology (src/compile CompileError).
  if (e instanceof Error && e.name === 'CompileError') return { code: 'unavailable', message: e.message };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Parses one request line; throws ControlError('bad-request') saying what is wrong. */
export function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new ControlError('bad-request', `malformed JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ControlError('bad-request', 'a request is a JSON object {"cmd": ..., "args": {...}}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'id' && k !== 'cmd' && k !== 'args') throw new ControlError('bad-request', `unknown request key "${k}" (expected id, cmd, args)`);
  }
  const id = o['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') {
    throw new ControlError('bad-request', 'id must be a string, a number or null');
  }
  if (typeof o['cmd'] !== 'string' || o['cmd'] === '') throw new ControlError('bad-request', 'cmd must be a non-empty string');
  const args = o['args'];
  if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
    throw new ControlError('bad-request', 'args must be a JSON object');
  }
  return { ...(id !== undefined ? { id: id as string | number | null } : {}), cmd: o['cmd'], ...(args ? { args: args as Record<string, unknown> } : {}) };
}

/** The `id` of a line that may not parse, for echoing it in an error. */
export function requestId(line: string): string | number | null {
  try {
    const v = JSON.parse(line) as { id?: unknown };
    return typeof v?.id === 'string' || typeof v?.id === 'number' ? v.id : null;
  } catch {
    return null;
  }
}

/**
 * Splits a byte stream into lines of at most `max` bytes. `push` returns the
 * complete lines so far; once a line grows past `max` without a newline,
 * `overflowed` turns true and nothing more is returned.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  overflowed = false;
  constructor(readonly max: number) {}

  push(chunk: Buffer): string[] {
    if (this.overflowed) return [];
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.max) {
        this.overflowed = true;
        return lines;
      }
      const line = this.size ? Buffer.concat([...this.parts, piece]).toString('utf8') : piece.toString('utf8');
      this.parts = [];
      this.size = 0;
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.size + rest.length > this.max) {
        this.overflowed = true;
        return lines;
      }
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return lines;
  }
}

// ---- typed arguments ------------------------------------------------------------------

/** Reads typed fields out of a request's args, failing with bad-request and the field. */
export class Args {
  constructor(
    private readonly o: Record<string, unknown>,
    private readonly cmd: string,
    allowed: readonly string[],
  ) {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        throw new ControlError('bad-request', `${cmd}: unknown argument "${k}" (expected ${allowed.length ? allowed.join(', ') : 'none'})`, k);
      }
    }
  }

  private fail(k: string, what: string): never {
    throw new ControlError('bad-request', `${this.cmd}: ${k} must be ${what}`, k);
  }

  str(k: string): string {
    const v = this.o[k];
    if (typeof v !== 'string' || v === '') this.fail(k, 'a non-empty string');
    return v;
  }

  optStr(k: string): string | undefined {
    return this.o[k] === undefined || this.o[k] === null ? undefined : this.str(k);
  }

  optInt(k: string): number | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(k, 'an integer');
    return v;
  }

  bool(k: string): boolean {
    const v = this.o[k];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(k, 'true or false');
    return v;
  }

  /** An object of string values (`{"eth0": "veth-web"}`). */
  strMap(k: string): Record<string, string> {
    const v = this.o[k];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(k, 'an object of strings');
    const out: Record<string, string> = {};
    for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) {
      if (typeof vv !== 'string' || vv === '') this.fail(`${k}.${kk}`, 'a non-empty string');
      out[kk] = vv;
    }
    return out;
  }

  /** A list of objects, each checked by `each`. */
  list<T>(k: string, each: (a: Args, i: number) => T, allowed: readonly string[]): T[] {
    const v = this.o[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(k, 'a list');
    return v.map((x, i) => {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) this.fail(`${k}[${i}]`, 'an object');
      return each(new Args(x as Record<string, unknown>, `${this.cmd}: ${k}[${i}]`, allowed), i);
    });
  }
}
