/**
 * A scenario error: the file, the key path at fault and the message (Docker's
 * wording where Docker has one), e.g.
 * `scenario.yaml: networks[2].aux_addresses.DefaultGatewayIPv4: no matching subnet for aux-address 10.9.0.1`.
 * Commands exit with `exitCode` (2) on it.
 *
 * @example
 * try { loadScenario('s.yaml'); }
 * catch (e) { if (isScenarioError(e)) { console.error(e.message); process.exitCode = e.exitCode; } }
 */
import type { ErrorCategory } from '../cnm/errors.ts';
import { NetworkError } from '../cnm/errors.ts';

export class ScenarioError extends Error {
  /** Exit status of a command failing on this error. */
  readonly exitCode = 2;
  /** The scenario file, as named by the user. */
  readonly file: string;
  /** Key path (`networks[1].subnet`), `line L, column C` for syntax errors, or ''. */
  readonly path: string;
  /** The message without file and path (Docker's wording). */
  readonly detail: string;
  /** Category of the underlying control-plane error, if any. */
  readonly category: ErrorCategory | undefined;

  constructor(file: string, path: string, detail: string, cause?: unknown) {
    super(`${file}: ${path ? `${path}: ` : ''}${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'ScenarioError';
    this.file = file;
    this.path = path;
    this.detail = detail;
    this.category = cause instanceof NetworkError ? cause.category : undefined;
  }
}

/** True for an error carrying an exit code of 2 (a ScenarioError). */
export function isScenarioError(e: unknown): e is ScenarioError {
  return e instanceof ScenarioError;
}
