/**
 * Errors of the control plane, typed by category as libnetwork types them
 * (moby `daemon/libnetwork/types/types.go`: InvalidParameter, NotFound,
 * Forbidden, Unavailable, Conflict, Internal). The message keeps Docker's own
 * wording, so a Docker user recognises it; `code` names the well-known error
 * (for example `ErrPoolOverlap`) so callers can branch without parsing text.
 *
 * @example
 * try { net.createEndpoint('c1', { host: 'local', ip: '10.0.0.2' }); }
 * catch (e) { if (isNetworkError(e, 'ErrIPAlreadyAllocated')) console.error(e.message); }
 */

/** libnetwork's error categories (the marker interfaces of types.go / errdefs). */
export type ErrorCategory =
  | 'invalid-parameter'
  | 'not-found'
  | 'forbidden'
  | 'unavailable'
  | 'conflict'
  | 'internal';

/** Fields of a network or endpoint request an error refers to (mapped to scenario key paths). */
export interface ErrorDetail {
  /** Well-known error name, e.g. `ErrPoolOverlap`, `NetworkNameError`. */
  code?: string;
  /**
   * The request field at fault, in scenario key words relative to the object
   * being created: `subnet`, `gateway`, `ip_range`, `aux_addresses.KEY`,
   * `options.KEY`, `ip`, `mac`, `vip`, `attach[0]`...
   */
  field?: string;
  /** The error this one wraps. */
  cause?: unknown;
  /** The object the request was about, when not obvious from the call (set by `about`). */
  subject?: ErrorSubject;
}

/** The scenario object an error is about: a host, network, container or service, by name. */
export interface ErrorSubject {
  kind: 'host' | 'network' | 'container' | 'service';
  name: string;
}

/** Base class of every control-plane error; `category` tells which kind it is. */
export class NetworkError extends Error {
  readonly category: ErrorCategory;
  readonly code: string | undefined;
  field: string | undefined;
  subject: ErrorSubject | undefined;

  constructor(category: ErrorCategory, message: string, detail: ErrorDetail = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'NetworkError';
    this.category = category;
    this.code = detail.code;
    this.field = detail.field;
    this.subject = detail.subject;
  }

  /** The same error with `field` set if it has none yet (fields are filled in by the caller that knows). */
  at(field: string | undefined): this {
    if (this.field === undefined && field !== undefined) this.field = field;
    return this;
  }

  /** The same error with `subject` set if it has none yet. */
  about(kind: ErrorSubject['kind'], name: string): this {
    if (this.subject === undefined) this.subject = { kind, name };
    return this;
  }
}

/** A bad request: malformed value, value out of range, unknown option. */
export class InvalidParameterError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('invalid-parameter', message, detail);
    this.name = 'InvalidParameterError';
  }
}

/** The object named does not exist. */
export class NotFoundError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('not-found', message, detail);
    this.name = 'NotFoundError';
  }
}

/** The request is valid but not allowed in the current state (overlap, in use, predefined). */
export class ForbiddenError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('forbidden', message, detail);
    this.name = 'ForbiddenError';
  }
}

/** A resource is exhausted (no address, no VNI left). */
export class UnavailableError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('unavailable', message, detail);
    this.name = 'UnavailableError';
  }
}

/** A name clash with an existing object. */
export class ConflictError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('conflict', message, detail);
    this.name = 'ConflictError';
  }
}

/** An internal failure wrapping another error (libnetwork's InternalErrorf). */
export class InternalError extends NetworkError {
  constructor(message: string, detail?: ErrorDetail) {
    super('internal', message, detail);
    this.name = 'InternalError';
  }
}

/** True if `e` is a NetworkError, and (when given) has that `code` somewhere in its cause chain. */
export function isNetworkError(e: unknown): e is NetworkError;
export function isNetworkError(e: unknown, code: string): boolean;
export function isNetworkError(e: unknown, code?: string): boolean {
  if (!(e instanceof NetworkError)) return false;
  if (code === undefined) return true;
  for (let x: unknown = e; x instanceof Error; x = (x as Error & { cause?: unknown }).cause) {
    if (x instanceof NetworkError && x.code === code) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Well-known IPAM errors: moby daemon/libnetwork/ipamapi/contract.go, verbatim
// wording and categories. Each call returns a fresh error (fields can be set).

/** `ErrInvalidPool`: "invalid address pool" (InvalidParameter). */
export const errInvalidPool = (): NetworkError =>
  new InvalidParameterError('invalid address pool', { code: 'ErrInvalidPool' });
/** `ErrNoAvailableIPs`: "no available addresses on this pool" (Unavailable). */
export const errNoAvailableIPs = (): NetworkError =>
  new UnavailableError('no available addresses on this pool', { code: 'ErrNoAvailableIPs' });
/** `ErrIPAlreadyAllocated`: "Address already in use" (Forbidden). */
export const errIPAlreadyAllocated = (): NetworkError =>
  new ForbiddenError('Address already in use', { code: 'ErrIPAlreadyAllocated' });
/** `ErrIPOutOfRange`: "requested address is out of range" (InvalidParameter). */
export const errIPOutOfRange = (): NetworkError =>
  new InvalidParameterError('requested address is out of range', { code: 'ErrIPOutOfRange' });
/** `ErrPoolOverlap`: "Pool overlaps with other one on this address space" (Forbidden). */
export const errPoolOverlap = (): NetworkError =>
  new ForbiddenError('Pool overlaps with other one on this address space', { code: 'ErrPoolOverlap' });
/** `ErrBadPool`: "address space does not contain specified address pool" (InvalidParameter). */
export const errBadPool = (): NetworkError =>
  new InvalidParameterError('address space does not contain specified address pool', { code: 'ErrBadPool' });
/** `ErrNoMoreSubnets`: "all predefined address pools have been fully subnetted" (InvalidParameter). */
export const errNoMoreSubnets = (): NetworkError =>
  new InvalidParameterError('all predefined address pools have been fully subnetted', { code: 'ErrNoMoreSubnets' });

/** Message of `e` if it is an Error, else its string form. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
