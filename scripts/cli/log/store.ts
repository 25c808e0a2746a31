/**
 * @module
 * What the client remembers of each registry's transparency log between runs, in the user's
 * config directory (next to receipt-key.json; `COUNTERSIGN_LOG_STATE_DIR` replaces the whole
 * directory, for tests and for CI caches):
 *
 *     <state>/checkpoints/<hex of the key fingerprint's digest>   the last accepted checkpoint: its
 *                                                                signed note text, verbatim
 *     <state>/checkpoints/<same>.proven.json    the trees (size, root) already proved to be prefixes
 *                                               of exactly that checkpoint (by its SHA-256), so that
 *                                               the next run does not fetch tiles to prove them again
 *     <state>/monitor/<hex of the fingerprint>-<hex of the namespace>.json
 *                                                                where `countersign monitor` stopped
 *
 * A stored checkpoint is never trusted as it stands: it is opened again under the registry's key
 * each run, so a file someone edited fails like a forged checkpoint. Every write goes to a
 * temporary file first and is renamed over the old one (mode 0600), so a crash or a second
 * process never leaves half a file. Two runs racing may store an older checkpoint over a newer
 * one; the next run then proves the older one consistent with what it is served, as always.
 */

import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromBase64, isFingerprint, toHex, utf8 } from "../../../src/core/index.js";
import { CliError, EXIT } from "../errors.js";
import { defaultKeyPath } from "../keyfile.js";

export const LOG_STATE_DIR_ENV = "COUNTERSIGN_LOG_STATE_DIR";

/** The directory of the client's log state: `COUNTERSIGN_LOG_STATE_DIR`, else the config directory. */
export function logStateDir(): string {
  return process.env[LOG_STATE_DIR_ENV] || dirname(defaultKeyPath());
}

/**
 * A file name for a key fingerprint (`SHA256:<base64>`): the hex of its digest, so it holds no
 * `/` or `+` and two fingerprints never share a name on a case-insensitive file system.
 */
export function fingerprintFileName(fingerprint: string): string {
  const digest = isFingerprint(fingerprint) ? fromBase64(`${fingerprint.slice("SHA256:".length)}=`) : undefined;
  if (!digest || digest.length !== 32) throw new CliError(`not a key fingerprint: ${JSON.stringify(fingerprint).slice(0, 80)}`, EXIT.usage);
  return `sha256-${toHex(digest)}`;
}

export function checkpointPath(fingerprint: string, dir = logStateDir()): string {
  return join(dir, "checkpoints", fingerprintFileName(fingerprint));
}

export function monitorPositionPath(fingerprint: string, namespace: string, dir = logStateDir()): string {
  return join(dir, "monitor", `${fingerprintFileName(fingerprint)}-${toHex(utf8(namespace))}.json`);
}

/** Writes `text` to `path` atomically: a 0600 temporary file in the same directory, then rename. */
export function writeAtomically(path: string, text: string): void {
  const directory = dirname(path);
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const temporary = join(directory, `.${randomBytes(6).toString("hex")}.tmp`);
    const fd = openSync(temporary, "wx", 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(temporary, path);
    } catch (err) {
      rmSync(temporary, { force: true });
      throw err;
    }
  } catch (err) {
    throw new CliError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.unavailable);
  }
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.unavailable);
  }
}

/** The last accepted checkpoints, one per registry key fingerprint. */
export interface CheckpointStore {
  /** Where the checkpoint of `fingerprint` is kept (for messages: "delete it if …"). */
  path(fingerprint: string): string;
  /** The stored note text, or undefined when none was stored yet. */
  read(fingerprint: string): string | undefined;
  write(fingerprint: string, noteText: string): void;
  /**
   * The trees (`<size> <base64 root>`) an earlier run proved to be prefixes of the stored
   * checkpoint `storedText`: bound to that exact text, so they are forgotten with it.
   */
  readProven?(fingerprint: string, storedText: string): Set<string>;
  writeProven?(fingerprint: string, storedText: string, proven: Iterable<string>): void;
}

/** How many proven trees are remembered per registry key (the largest ones). */
const MAX_PROVEN = 4096;

const textDigest = (text: string) => createHash("sha256").update(text).digest("hex");

export function checkpointStore(dir?: string): CheckpointStore {
  const at = (fingerprint: string) => checkpointPath(fingerprint, dir ?? logStateDir());
  return {
    path: at,
    read: (fingerprint) => readIfPresent(at(fingerprint)),
    write: (fingerprint, noteText) => writeAtomically(at(fingerprint), noteText),
    readProven(fingerprint, storedText) {
      let value: { checkpoint?: unknown; proven?: unknown };
      try {
        value = JSON.parse(readIfPresent(`${at(fingerprint)}.proven.json`) ?? "{}") as typeof value;
      } catch {
        return new Set();
      }
      if (value.checkpoint !== textDigest(storedText) || !Array.isArray(value.proven)) return new Set();
      return new Set(value.proven.filter((key): key is string => typeof key === "string"));
    },
    writeProven(fingerprint, storedText, proven) {
      const kept = [...new Set(proven)].sort((a, b) => Number(b.split(" ")[0]) - Number(a.split(" ")[0])).slice(0, MAX_PROVEN);
      writeAtomically(`${at(fingerprint)}.proven.json`, `${JSON.stringify({ checkpoint: textDigest(storedText), proven: kept })}\n`);
    },
  };
}

/** Where `countersign monitor` stopped for a registry and namespace. */
export interface MonitorPosition {
  /** The next log index to read: every entry below it was listed and verified. */
  next: number;
  /** The checkpoint that walk was verified against. */
  checkpoint: { size: number; root: string };
}

export function readMonitorPosition(fingerprint: string, namespace: string, dir?: string): MonitorPosition | undefined {
  const path = monitorPositionPath(fingerprint, namespace, dir);
  const text = readIfPresent(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not JSON: delete it to monitor from the start (or pass --from INDEX)`, EXIT.usage);
  }
  const v = value as Partial<MonitorPosition> | null;
  if (!v || !Number.isSafeInteger(v.next) || (v.next as number) < 0 || typeof v.checkpoint?.root !== "string" || !Number.isSafeInteger(v.checkpoint.size)) {
    throw new CliError(`${path} is not a monitor position: delete it to monitor from the start (or pass --from INDEX)`, EXIT.usage);
  }
  return v as MonitorPosition;
}

export function writeMonitorPosition(fingerprint: string, namespace: string, position: MonitorPosition, dir?: string): void {
  writeAtomically(monitorPositionPath(fingerprint, namespace, dir), `${JSON.stringify(position)}\n`);
}
