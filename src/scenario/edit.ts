/**
 * Editing a scenario file in place, for `netwasm network create|rm`,
 * `netwasm run` and `netwasm service create`: entries are appended to (or
 * removed from) the `networks`, `containers` and `services` lists of the YAML
 * Document, so comments and layout of the rest of the file stay as they were.
 * JSON files are written back as JSON (two-space indent).
 *
 * @example
 * const f = ScenarioFile.open('netwasm.yaml', { create: true });
 * f.add('networks', { name: 'mynet', driver: 'bridge', subnet: '10.1.0.0/24' });
 * f.resolve(); // throws ScenarioError if the edit makes the scenario invalid
 * f.save();
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { Document, isCollection, isMap, isScalar, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import { isJsonFile, parseScenarioDocument, readScenarioFile } from './load.ts';
import { resolveScenario, type ResolvedScenario } from './resolve.ts';
import { specFromValue, type ScenarioSpec } from './spec.ts';

export type ScenarioList = 'networks' | 'containers' | 'services';

export class ScenarioFile {
  /** The file as messages name it. */
  readonly file: string;
  /** Where it is on disk. */
  readonly path: string;
  readonly json: boolean;
  readonly doc: Document;
  /** False when the file did not exist (it is created by `save`). */
  readonly existed: boolean;

  private constructor(path: string, file: string, doc: Document, existed: boolean) {
    this.path = path;
    this.file = file;
    this.json = isJsonFile(path);
    this.doc = doc;
    this.existed = existed;
  }

  /**
   * Opens the file at `path` (`name`: how messages call it, default `path`).
   * With `create`, a missing file is an empty scenario; otherwise it is a
   * ScenarioError ("open FILE: no such file or directory").
   */
  static open(path: string, opts: { create?: boolean; name?: string } = {}): ScenarioFile {
    const name = opts.name ?? path;
    if (opts.create && !existsSync(path)) return new ScenarioFile(path, name, new Document({}), false);
    return new ScenarioFile(path, name, parseScenarioDocument(readScenarioFile(path, name), name), true);
  }

  /** The file's current content, shape-checked. */
  spec(): ScenarioSpec {
    return specFromValue(this.doc.toJS({ maxAliasCount: 100 }), this.file);
  }

  /** The file's current content, resolved (throws ScenarioError). */
  resolve(): ResolvedScenario {
    return resolveScenario(this.spec(), { file: this.file, path: this.path });
  }

  /** Appends an entry to a top-level list, creating the list if needed. */
  add(list: ScenarioList, entry: Record<string, unknown>): void {
    const node = this.doc.createNode(entry) as Node;
    compact(node, 0);
    const cur = this.doc.get(list, true);
    if (isSeq(cur) && !(cur.flow && cur.items.length === 0)) {
      (cur as YAMLSeq).items.push(node);
      return;
    }
    const seq = this.doc.createNode([]) as YAMLSeq;
    if (isSeq(cur)) seq.items.push(...(cur as YAMLSeq).items);
    seq.items.push(node);
    seq.flow = false;
    if (!isMap(this.doc.contents)) this.doc.contents = this.doc.createNode({}) as YAMLMap;
    this.doc.set(list, seq);
  }

  /** Removes the entry named `name` from a top-level list; false if there is none. */
  remove(list: ScenarioList, name: string): boolean {
    const cur = this.doc.get(list, true);
    if (!isSeq(cur)) return false;
    const items = (cur as YAMLSeq).items;
    const i = items.findIndex((it) => isMap(it) && (it as YAMLMap).get('name') === name);
    if (i < 0) return false;
    items.splice(i, 1);
    return true;
  }

  /** The text that `save` writes. */
  toString(): string {
    if (this.json) return `${JSON.stringify(this.doc.toJS() ?? {}, null, 2)}\n`;
    return this.doc.toString({ lineWidth: 0 });
  }

  /** Writes the file (through a temporary file and a rename). */
  save(): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, this.toString());
    renameSync(tmp, this.path);
  }
}

/** New entries: block style at the top, small collections in flow style (`{ a: 1 }`, `[a, b]`). */
function compact(node: unknown, depth: number): void {
  if (!isCollection(node)) return;
  const items = isMap(node) ? node.items.map((p) => p.value) : (node as YAMLSeq).items;
  const allScalar = items.every((v) => isScalar(v) || v === null || v === undefined);
  if (depth >= 1 && allScalar) {
    node.flow = true;
    return;
  }
  node.flow = false;
  for (const v of items) compact(v, depth + 1);
}
