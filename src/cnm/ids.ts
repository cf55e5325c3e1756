/**
 * Object IDs. Docker draws 64 random hex digits; netwasm derives them from the
 * object's kind and name with SHA-256, so the same scenario always has the
 * same IDs (and bridge names `br-<12 digits>`).
 *
 * @example
 * stableId('network', 'mybridge').slice(0, 12); // same on every run
 */
import { createHash } from 'node:crypto';

/** 64 hex digits derived from `kind` and `parts`. */
export function stableId(kind: string, ...parts: string[]): string {
  return createHash('sha256').update(['netwasm', kind, ...parts].join('\0')).digest('hex');
}

/** The 12-digit short form Docker prints (stringid.TruncateID). */
export function truncateId(id: string): string {
  return id.slice(0, 12);
}
