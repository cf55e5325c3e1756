/**
 * Loading scenario files (YAML or JSON, the same keys) with the `yaml`
 * package's Document API, which the editing commands reuse to save changes
 * back while keeping comments and layout.
 *
 * @example
 * const s = loadScenario('fixtures/scenarios/talk.yaml');
 * s.topology.endpoints.map((e) => `${e.port} ${e.ip} ${e.mac}`);
 */
import { readFileSync } from 'node:fs';
import { Document, isMap, parseDocument } from 'yaml';
import { ScenarioError } from './errors.ts';
import { resolveScenario, type ResolvedScenario } from './resolve.ts';
import { specFromValue, type ScenarioSpec } from './spec.ts';

/** True if the file should be written back as JSON. */
export function isJsonFile(file: string): boolean {
  return /\.json$/i.test(file);
}

/** Parses scenario text into a YAML Document; syntax errors become ScenarioErrors with line and column. */
export function parseScenarioDocument(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : '';
    throw new ScenarioError(file, where, err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new ScenarioError(file, '', 'expected a mapping at the top of the scenario');
  }
  return doc;
}

/** Parses and checks the shape of scenario text. */
export function parseScenario(text: string, file: string): ScenarioSpec {
  return specFromValue(parseScenarioDocument(text, file).toJS({ maxAliasCount: 100 }), file);
}

/**
 * Parses, checks and resolves scenario text. `file` names it in messages;
 * `path` (default `file`) is where it lives, the base of relative paths.
 */
export function loadScenarioText(text: string, file: string, path: string = file): ResolvedScenario {
  return resolveScenario(parseScenario(text, file), { file, path });
}

/**
 * Reads, checks and resolves a scenario file. A file that cannot be read is
 * a ScenarioError too (exit code 2). `name` is how messages call it
 * (default: `path` as given).
 */
export function loadScenario(path: string, name: string = path): ResolvedScenario {
  return loadScenarioText(readScenarioFile(path, name), name, path);
}

/** The file's text, or a ScenarioError saying why it cannot be read. */
export function readScenarioFile(path: string, name: string = path): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ScenarioError(name, '', `open ${name}: ${why}`, e);
  }
}
