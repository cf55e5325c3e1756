// test/helpers/netns.ts — helpers for tests that need the real Linux kernel
// (root + network namespaces), e.g. comparing the WASM data plane with the
// kernel bridge / vxlan on the same traffic.
//
// Policy for such tests: when root or netns support is missing, a test is
// SKIPPED with a printed message on a developer machine, but FAILS when
// process.env.CI is set (CI must never silently lose its kernel coverage).
//
//   import { hostTest, NetnsSet, netnsName } from './helpers/netns.ts';
//   hostTest(MySuite, 'bridge floods like the kernel', () => {
//     const ns = new NetnsSet();
//     try {
//       const a = ns.add(netnsName('nwk')), b = ns.add(netnsName('nwk'));
//       ns.addVethPair({ ns: a, name: 'veth0', mac: '02:00:00:00:00:0a' }, { ns: b, name: 'veth0' });
//       ns.exec(a, 'ip addr add 10.10.0.1/24 dev veth0');
//       ...
//     } finally { ns.cleanup(); }
//   });
//
// This file has no uvu suites of its own (uvu imports every .ts under test/,
// which is harmless here: nothing runs or registers hooks at import time).

import { execFileSync, execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// ------------------------------------------------------------------ shell

/** Run a shell command with captured stdio; returns stdout without the
 *  trailing newline. Throws an Error carrying the exit status and stderr. */
export function sh(cmd: string): string {
  try {
    return execSync(cmd, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', shell: '/bin/sh' }).replace(/\n+$/, '');
  } catch (e) {
    throw commandError(cmd, e);
  }
}

/** Like sh() but without a shell: argv is passed verbatim (no quoting issues). */
export function run(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' }).replace(/\n+$/, '');
  } catch (e) {
    throw commandError([file, ...args].join(' '), e);
  }
}

function commandError(cmd: string, e: unknown): Error {
  const x = e as { status?: number | null; signal?: string | null; stderr?: string | Buffer; message?: string };
  const stderr = x.stderr === undefined ? '' : String(x.stderr).trim();
  const how = x.status != null ? `exit ${x.status}` : x.signal ? `signal ${x.signal}` : (x.message ?? 'failed');
  const err = new Error(`command failed (${how}): ${cmd}${stderr ? `\n${stderr}` : ''}`);
  (err as Error & { status?: number | null }).status = x.status ?? null;
  return err;
}

/** Is `name` an executable on PATH? */
export function hasCommand(name: string): boolean {
  try {
    execFileSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------ host checks

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let netnsProbe: { ok: boolean; why?: string } | undefined;

/** Can this process create network namespaces? Probed once (creates and
 *  deletes a throw-away namespace), then cached. */
export function hasNetns(): boolean {
  return probeNetns().ok;
}

function probeNetns(): { ok: boolean; why?: string } {
  if (netnsProbe) return netnsProbe;
  if (process.platform !== 'linux') return (netnsProbe = { ok: false, why: `platform is ${process.platform}, not linux` });
  if (!existsSync('/proc/self/ns/net')) return (netnsProbe = { ok: false, why: 'kernel without network namespaces' });
  if (!hasCommand('ip')) return (netnsProbe = { ok: false, why: "iproute2 'ip' command not found" });
  if (!isRoot()) return (netnsProbe = { ok: false, why: 'not running as root' });
  const probe = netnsName('nwprobe');
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'exec', probe, 'ip', 'link', 'set', 'lo', 'up']);
    netnsProbe = { ok: true };
  } catch (e) {
    netnsProbe = { ok: false, why: `cannot create a network namespace: ${(e as Error).message.split('\n').pop()}` };
  } finally {
    try {
      run('ip', ['netns', 'del', probe]);
    } catch {
      /* it was never created */
    }
  }
  return netnsProbe;
}

/** Root + netns + iproute2 present? `why` explains the first missing piece. */
export function hostTestsAvailable(): { ok: boolean; why?: string } {
  if (!isRoot()) return { ok: false, why: 'not running as root' };
  return probeNetns();
}

/**
 * Gate for a test that needs root + netns. Returns true when the test may
 * proceed. When the host lacks them: under CI (process.env.CI set) throws, so
 * the test FAILS; otherwise prints a skip message and returns false — the
 * caller must then `return` without asserting anything.
 */
export function requireHost(testName: string): boolean {
  const h = hostTestsAvailable();
  if (h.ok) return true;
  const msg = `host test "${testName}" needs root and network namespaces: ${h.why ?? 'unavailable'}`;
  if (process.env.CI) throw new Error(`${msg} (CI is set, so this is a failure, not a skip)`);
  console.log(`  SKIP ${msg}`);
  return false;
}

type UvuTestFn = (name: string, fn: () => void | Promise<void>) => void;

/** Register a uvu test that runs only when requireHost() allows it. */
export function hostTest(test: UvuTestFn, name: string, fn: () => void | Promise<void>): void {
  test(name, async () => {
    if (!requireHost(name)) return;
    await fn();
  });
}

// ------------------------------------------------------------------ names

let counter = 0;
const NAME_RE = /^[A-Za-z0-9_-]*$/;

function checkPrefix(prefix: string): void {
  if (!NAME_RE.test(prefix)) throw new Error(`bad name prefix ${JSON.stringify(prefix)}: use [A-Za-z0-9_-]`);
}

/** A network-namespace name unique to this process and call:
 *  `${prefix}-${pid}-${n}`, e.g. "nwk-4321-3". */
export function netnsName(prefix: string): string {
  checkPrefix(prefix);
  return `${prefix}-${process.pid}-${++counter}`;
}

/** An interface name of at most 15 characters (IFNAMSIZ-1), unique to this
 *  process and call: the prefix cut to 8 characters, then the pid in base 36
 *  padded to 5 characters, then a base-36 counter of at least 2 characters.
 *  The fixed-width pid field keeps names from different processes apart. */
export function ifName(prefix: string): string {
  checkPrefix(prefix);
  const pid = process.pid.toString(36).padStart(5, '0');
  const n = (++counter).toString(36).padStart(2, '0');
  const name = prefix.slice(0, Math.max(0, 15 - pid.length - n.length)) + pid + n;
  if (name.length > 15) throw new Error(`interface name counter exhausted (${name})`);
  return name;
}

// ------------------------------------------------------------- NetnsSet

export interface VethEnd {
  /** namespace to put this end in; undefined = the test process's namespace */
  ns?: string;
  name: string;
  mac?: string;
}

const liveSets = new Set<NetnsSet>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Safety net: whatever a test forgot (or could not) clean up goes on exit.
  process.on('exit', cleanupAll);
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      cleanupAll();
      process.exit(code);
    });
  }
}

/** Clean up every NetnsSet still alive in this process. */
export function cleanupAll(): void {
  for (const s of [...liveSets]) s.cleanup();
}

/**
 * Namespaces and links created by one test; cleanup() removes exactly those,
 * in reverse order, and is idempotent. A process 'exit' hook (and SIGINT /
 * SIGTERM) cleans up whatever is left.
 */
export class NetnsSet {
  private readonly namespaces: string[] = [];
  private readonly links: Array<{ ns?: string; name: string }> = [];

  constructor() {
    installExitHooks();
    liveSets.add(this);
  }

  /** Create namespace `name` (default: a fresh netnsName('nwt')) and bring
   *  its lo up. Use netnsName(prefix) for names that cannot collide. */
  add(name: string = netnsName('nwt')): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`bad namespace name ${JSON.stringify(name)}`);
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Create a veth pair whose ends live in `a.ns` and `b.ns` (or the current
   *  namespace), with optional fixed MACs. Links are left down. */
  addVethPair(a: VethEnd, b: VethEnd): void {
    for (const end of [a, b]) {
      if (end.name.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(end.name)) throw new Error(`bad interface name ${end.name}`);
    }
    const args = [...(a.ns ? ['-n', a.ns] : []), 'link', 'add', a.name];
    if (a.mac) args.push('address', a.mac);
    args.push('type', 'veth', 'peer', 'name', b.name);
    if (b.ns) args.push('netns', b.ns);
    if (b.mac) args.push('address', b.mac);
    run('ip', args);
    this.links.push({ ...(a.ns ? { ns: a.ns } : {}), name: a.name });
  }

  /** Record a link created by other means (e.g. exec(ns, 'ip link add ...'))
   *  in a namespace this set does not own, so cleanup() deletes it. */
  trackLink(name: string, ns?: string): void {
    this.links.push({ ...(ns ? { ns } : {}), name });
  }

  /** Run a shell command inside namespace `ns`; returns its stdout. */
  exec(ns: string, cmd: string): string {
    return run('ip', ['netns', 'exec', ns, '/bin/sh', '-c', cmd]);
  }

  /** Namespaces created so far (in creation order). */
  list(): readonly string[] {
    return this.namespaces;
  }

  /** Remove all links and namespaces this set created. Never throws; returns
   *  the error messages of deletions that failed for a reason other than
   *  "already gone". */
  cleanup(): string[] {
    const errors: string[] = [];
    const gone = /Cannot find device|No such file|does not exist|not found/i;
    for (const l of this.links.splice(0).reverse()) {
      // a link inside one of our namespaces disappears with the namespace
      if (l.ns && this.namespaces.includes(l.ns)) continue;
      try {
        run('ip', [...(l.ns ? ['-n', l.ns] : []), 'link', 'del', l.name]);
      } catch (e) {
        if (!gone.test((e as Error).message)) errors.push((e as Error).message);
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch (e) {
        if (!gone.test((e as Error).message)) errors.push((e as Error).message);
      }
    }
    liveSets.delete(this);
    return errors;
  }
}
