/**
 * @module
 * What this machine accepted of each package's signed metadata (core/package-metadata.ts), kept
 * beside the checkpoints (log/store.ts: the same state directory, the same atomic 0600 writes):
 *
 *     <state>/metadata/<hex of the registry key fingerprint's digest>.json
 *         { "registry": "SHA256:…", "digest": 2, "packages": { "<name>": { "serial": n, "contentSha256": "…" } } }
 *
 * `digest: 2`: the content digests leave out the statement's signer (`registry`), so a statement
 * re-signed by a rotated key keeps its digest. A file without it is from before: its serials
 * still hold, its digests are dropped (the next accepted statement of each package sets one).
 *
 * Each entry is a **floor**, never a trust root: a served statement must still open under the
 * pinned key, be unexpired and list the locked versions; the floor only says how old a statement
 * this machine will take for the package (a lower serial is a rollback, the same serial with other
 * contents an equivocation). Floors only rise: a write merges with what is on disk at that moment
 * (re-read just before the rename), keeping the higher serial per name, so two runs racing lose
 * nothing but the lower of two serials. A file that cannot be read as floors is an error (exit 2)
 * naming the file, never an empty store: resetting it silently is exactly what a rollback needs.
 */

import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { SeenMetadata } from "../../../src/core/index.js";
import { CliError, EXIT } from "../errors.js";
import { fingerprintFileName, logStateDir, writeAtomically } from "./store.js";

/** The accepted floors, one file per registry key fingerprint. */
export interface MetadataStore {
  /** Where the floors of `fingerprint` are kept (for messages). */
  path(fingerprint: string): string;
  /** The floor of `name` under `fingerprint`, or undefined when none was stored. Throws on a corrupt file. */
  read(fingerprint: string, name: string): SeenMetadata | undefined;
  /** Raises the floors of `fingerprint` to `floors` (a lower serial than stored is ignored). */
  raise(fingerprint: string, floors: ReadonlyMap<string, SeenMetadata>): void;
}

export function metadataFloorPath(fingerprint: string, dir = logStateDir()): string {
  return join(dir, "metadata", `${fingerprintFileName(fingerprint)}.json`);
}

/** The content digest format this store writes (core/package-metadata.ts `contentSha256`). */
const DIGEST_FORMAT = 2;

const isFloor = (value: unknown): value is SeenMetadata => {
  const v = value as Partial<SeenMetadata> | null;
  return typeof v === "object" && v !== null && Number.isSafeInteger(v.serial) && (v.serial as number) > 0 && (v.contentSha256 === undefined || (typeof v.contentSha256 === "string" && /^[0-9a-f]{64}$/.test(v.contentSha256)));
};

function corrupt(path: string, why: string): CliError {
  return new CliError(
    `${path} ${why}: it holds the package metadata serials this machine accepted (its rollback protection); restore it, or delete it to start again from what the registry serves next`,
    EXIT.usage,
    { path },
  );
}

/** The floors stored in `path` (empty when there is no file); a file that is not floors for `fingerprint` throws. */
function readFloors(path: string, fingerprint: string): Map<string, SeenMetadata> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.unavailable);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(path, "is not JSON");
  }
  const file = value as { registry?: unknown; digest?: unknown; packages?: unknown } | null;
  if (typeof file !== "object" || file === null || typeof file.packages !== "object" || file.packages === null || Array.isArray(file.packages)) throw corrupt(path, "is not a metadata floor file");
  if (file.registry !== fingerprint) throw corrupt(path, `is for registry key ${JSON.stringify(file.registry).slice(0, 80)}, not ${fingerprint}`);
  const floors = new Map<string, SeenMetadata>();
  for (const [name, floor] of Object.entries(file.packages as Record<string, unknown>)) {
    if (!isFloor(floor)) throw corrupt(path, `has a malformed entry for ${JSON.stringify(name).slice(0, 120)}`);
    floors.set(name, { serial: floor.serial, ...(file.digest === DIGEST_FORMAT && floor.contentSha256 !== undefined ? { contentSha256: floor.contentSha256 } : {}) });
  }
  return floors;
}

export function metadataStore(dir?: string): MetadataStore {
  const at = (fingerprint: string) => metadataFloorPath(fingerprint, dir ?? logStateDir());
  const cache = new Map<string, Map<string, SeenMetadata>>();
  const floorsOf = (fingerprint: string) => {
    let floors = cache.get(fingerprint);
    if (!floors) cache.set(fingerprint, (floors = readFloors(at(fingerprint), fingerprint)));
    return floors;
  };
  return {
    path: at,
    read: (fingerprint, name) => floorsOf(fingerprint).get(name),
    raise(fingerprint, floors) {
      const path = at(fingerprint);
      // Merge with the file as it is now (another run may have raised it since it was read).
      const merged = readFloors(path, fingerprint);
      let changed = false;
      for (const [name, floor] of floors) {
        const stored = merged.get(name);
        if (stored && (stored.serial > floor.serial || (stored.serial === floor.serial && (stored.contentSha256 !== undefined || floor.contentSha256 === undefined)))) continue;
        merged.set(name, { serial: floor.serial, ...(floor.contentSha256 !== undefined ? { contentSha256: floor.contentSha256 } : {}) });
        changed = true;
      }
      cache.set(fingerprint, merged);
      if (!changed) return;
      const packages = Object.fromEntries([...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      writeAtomically(path, `${JSON.stringify({ registry: fingerprint, digest: DIGEST_FORMAT, packages }, null, 1)}\n`);
    },
  };
}
