/**
 * @module
 * Reading one registry's transparency log (PROTOCOL §18, C2SP tlog-tiles) under its pinned key:
 *
 * - `checkpoint`: fetched once per run, opened with `logVerifier(origin, publicKey)` (and any
 *   witnesses given). Every checkpoint text, fetched or carried by a tlog-proof, is opened once
 *   per run (memoized by text): Ed25519 is the expensive part.
 * - tiles and entry bundles: fetched with the client's HTTP helper (time limit, size cap, typed
 *   errors), each at most once per run. A partial tile the log no longer serves (404) is read as
 *   the prefix of the full tile that replaced it. Tiles are NOT authenticated: every hash read
 *   from them only counts inside a proof verified against a signed checkpoint root.
 * - proofs: inclusion and consistency proofs computed from the tiles of the larger tree and
 *   verified against the signed roots (core `verifyInclusion` / `verifyConsistency`).
 *
 * The log is fetched from the registry URL the consumer pinned (like every other API), and named
 * by the origin the registry signs with: `logOrigin(<origin in its countersignatures or identity
 * document>)`, so a registry reached through another host name still opens.
 *
 * Failures: an HTTP failure of any kind is a `LogOutage` (exit 3: retrying may help, nothing was
 * judged); everything that shows the log misbehaving is a `LogRejection` (exit 1) with a `log`
 * layer failure code.
 */

import {
  consistencyProof,
  formatEntriesPath,
  formatTilePath,
  inclusionProof,
  logOrigin,
  logUrl,
  logVerifier,
  MAX_ENTRY_BYTES,
  MAX_NOTE_BYTES,
  noteErrorText,
  openCheckpoint,
  parseEntryBundle,
  rangeHashes,
  TILE_WIDTH,
  toBase64,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type Checkpoint,
  type FailureCode,
  type Hash,
  type HashReader,
  type NoteSignature,
  type NoteVerifier,
  type Tile,
} from "../../../src/core/index.js";
import { fail, ok, type Result } from "../../../src/core/result.js";
import { CliError, EXIT } from "../errors.js";
import { readBody, request } from "../http.js";
import { fastTileHashReader, ProvedTree, TlogProofParser } from "./fast.js";

/** The log-layer failure codes (src/core/verify.ts FailureCode). */
export type LogFailureCode = Extract<FailureCode, "split_view" | "not_in_log" | "bad_checkpoint" | "bad_tiles" | "witness_quorum">;

export interface LogProblem {
  code: LogFailureCode;
  message: string;
  expected?: string;
  actual?: string;
}

/** The log misbehaved, or cannot prove what it must: exit 1. */
export class LogRejection extends CliError {
  constructor(readonly problem: LogProblem) {
    super(problem.message, EXIT.rejected, { layer: "log", ...problem });
    this.name = "LogRejection";
  }
}

/** The log could not be read (network, timeout, any HTTP error): exit 3, never a pass. */
export class LogOutage extends CliError {
  constructor(message: string) {
    super(message, EXIT.unavailable);
    this.name = "LogOutage";
  }
}

/** A checkpoint that opened under the log's key: its text (verbatim, signatures included) and contents. */
export interface SignedCheckpoint {
  text: string;
  checkpoint: Checkpoint;
  cosignatures: readonly NoteSignature[];
}

/** `origin size N root B64`: how every message names a checkpoint. */
export function describeCheckpoint(checkpoint: Checkpoint): string {
  return `${checkpoint.origin} size ${checkpoint.size} root ${toBase64(checkpoint.rootHash)}`;
}

const TILE_BYTES_CAP = TILE_WIDTH * 32;
const ENTRY_BUNDLE_CAP = TILE_WIDTH * (2 + MAX_ENTRY_BYTES);

export interface LogReaderOptions {
  /** Where to fetch the log: the registry URL the consumer pinned (or gave). */
  base: string;
  /** The registry's origin as it signs it (countersignature `predicate.registry.origin`, identity `origin`). */
  registryOrigin: string;
  /** The registry's Ed25519 public key, whose fingerprint the consumer pinned. */
  publicKey: Uint8Array;
  /** Set when that key was rotated away at this log index: it signs trees up to this size only. */
  publicKeyUntil?: number | undefined;
  /**
   * The registry's other keys of the same history (PROTOCOL §21): a key rotated away at log index
   * `until` signs checkpoints of trees up to that size only; one without `until` signs any.
   */
  otherKeys?: readonly { publicKey: Uint8Array; until?: number | undefined }[];
  /** Witness cosignatures to verify when present (optional). */
  witnesses?: readonly NoteVerifier[];
  /** How many of `witnesses` must have cosigned a checkpoint that inclusion relies on (default 0). */
  quorum?: number;
  /** Sent to the pinned registry only (READ_ACCESS=token). */
  token?: string | undefined;
}

/** A checkpoint signed by a key rotated away at index `until` is only good for trees up to that size (they cannot contain the rotation). */
function withinRange<T extends { ok: true; value: { checkpoint: Checkpoint } }>(opened: T, until: number | undefined): T | { ok: false; error: { code: "checkpoint"; reason: string } } {
  if (until === undefined || opened.value.checkpoint.size <= until) return opened;
  return fail({ code: "checkpoint" as const, reason: `it is signed by a registry key rotated away at log index ${until}, for a tree of size ${opened.value.checkpoint.size} that includes that rotation` });
}

export class LogReader {
  /** The log's URL prefix, ending in `/`. */
  readonly url: string;
  /** The checkpoint origin line and note key name. */
  readonly origin: string;
  private readonly opened = new Map<string, Promise<Result<SignedCheckpoint, LogProblem>>>();
  private latestCheckpoint: Promise<SignedCheckpoint> | undefined;
  /** Tile bytes by `level/index`: the widest version read so far (a narrower one is its prefix). */
  private readonly tiles = new Map<string, Promise<Uint8Array>>();
  private readonly readers = new Map<number, HashReader>();
  private readonly proved = new Map<string, ProvedTree>();
  /** Parses the run's tlog-proofs (each distinct checkpoint note checked once). */
  readonly proofParser = new TlogProofParser();
  /** The largest tree size of a checkpoint opened this run: its partial tiles are the widest the log may serve. */
  private largestSize = 0;

  private constructor(
    options: LogReaderOptions,
    private readonly verifier: NoteVerifier,
    private readonly others: readonly { verifier: NoteVerifier; until?: number | undefined }[] = [],
    private readonly until?: number | undefined,
  ) {
    this.url = logUrl(options.base);
    this.origin = logOrigin(options.registryOrigin);
    this.witnesses = options.witnesses ?? [];
    this.quorum = options.quorum ?? 0;
    this.token = options.token;
  }

  private readonly witnesses: readonly NoteVerifier[];
  /** Cosignatures by distinct pinned witnesses a checkpoint needs before inclusion in it counts. */
  readonly quorum: number;
  private readonly token: string | undefined;

  static async create(options: LogReaderOptions): Promise<Result<LogReader, string>> {
    const verifier = await logVerifier(options.registryOrigin, options.publicKey);
    if (!verifier.ok) return fail(`no log key for ${options.registryOrigin}: ${verifier.error}`);
    const others: { verifier: NoteVerifier; until?: number | undefined }[] = [];
    for (const key of options.otherKeys ?? []) {
      const other = await logVerifier(options.registryOrigin, key.publicKey);
      if (!other.ok) return fail(`no log key for ${options.registryOrigin}: ${other.error}`);
      if (other.value.keyHash !== verifier.value.keyHash) others.push({ verifier: other.value, until: key.until });
    }
    return ok(new LogReader(options, verifier.value, others, options.publicKeyUntil));
  }

  /** Whether `signed` carries the pinned witnesses' quorum of cosignatures (each verified when it was opened). */
  witnessed(signed: SignedCheckpoint): boolean {
    return new Set(signed.cosignatures.map((sig) => `${sig.name}+${sig.keyHash}`)).size >= this.quorum;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** The checkpoint `text` if it already opened this run (no await, no signature check); else undefined. */
  openedAlready(text: string): SignedCheckpoint | undefined {
    return this.settled.get(text);
  }

  private readonly settled = new Map<string, SignedCheckpoint>();

  /** Opens checkpoint note text under the log's key (once per distinct text per run). Never throws. */
  openCheckpoint(text: string): Promise<Result<SignedCheckpoint, LogProblem>> {
    let found = this.opened.get(text);
    if (!found) {
      found = this.openUnderAnyKey(text).then((opened) => {
        if (opened.ok) {
          this.largestSize = Math.max(this.largestSize, opened.value.checkpoint.size);
          const signed = { text, checkpoint: opened.value.checkpoint, cosignatures: opened.value.cosignatures };
          this.settled.set(text, signed);
          return ok(signed);
        }
        const why = opened.error.code === "checkpoint" ? opened.error.reason : noteErrorText(opened.error);
        return fail<LogProblem>({ code: "bad_checkpoint", message: `a checkpoint that does not open under the key of ${this.origin}: ${why}`, expected: `a checkpoint of ${this.origin} signed by its registry key` });
      });
      this.opened.set(text, found);
    }
    return found;
  }

  /**
   * Opens `text` under the registry key, else under another key of its history; a key rotated
   * away at index `until` may not have signed a tree larger than `until` (such a tree contains
   * its own rotation).
   */
  private async openUnderAnyKey(text: string): ReturnType<typeof openCheckpoint> {
    const first = await openCheckpoint(text, this.origin, this.verifier, this.witnesses);
    if (first.ok || this.others.length === 0) return first.ok ? withinRange(first, this.until) : first;
    for (const other of this.others) {
      const opened = await openCheckpoint(text, this.origin, other.verifier, this.witnesses);
      if (opened.ok) return withinRange(opened, other.until);
    }
    return first;
  }

  /** The tree a signed checkpoint commits to, for checking inclusion proofs against it (one per checkpoint per run). */
  provedTree(signed: SignedCheckpoint): ProvedTree {
    let tree = this.proved.get(signed.text);
    if (!tree) this.proved.set(signed.text, (tree = new ProvedTree(signed.checkpoint.size, signed.checkpoint.rootHash)));
    return tree;
  }

  /** The log's current checkpoint, fetched and opened once per run (refresh: fetch again). */
  latest(refresh = false): Promise<SignedCheckpoint> {
    if (!this.latestCheckpoint || refresh) {
      this.latestCheckpoint = (async () => {
        const url = `${this.url}checkpoint`;
        const text = new TextDecoder("utf-8", { fatal: false }).decode(await this.fetchBytes(url, MAX_NOTE_BYTES, "the log checkpoint"));
        const opened = await this.openCheckpoint(text);
        if (!opened.ok) throw new LogRejection({ ...opened.error, message: `${this.host} served ${opened.error.message}` });
        return opened.value;
      })();
      // A failed fetch is not remembered as the answer for the rest of the run's callers only.
      this.latestCheckpoint.catch(() => undefined);
    }
    return this.latestCheckpoint;
  }

  private async fetchBytes(url: string, limit: number, what: string, accept404 = false): Promise<Uint8Array | undefined> {
    let response: Response;
    try {
      response = await request(url, { token: this.token, accept: accept404 ? [404] : [], headers: { accept: "*/*" } });
    } catch (err) {
      if (err instanceof CliError) throw new LogOutage(`the transparency log at ${this.url} could not be read: ${err.message}`);
      throw err;
    }
    if (response.status === 404) {
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    try {
      return await readBody(response, url, limit, what);
    } catch (err) {
      if (err instanceof CliError) throw new LogOutage(`the transparency log at ${this.url} could not be read: ${err.message}`);
      throw err;
    }
  }

  /**
   * The bytes of a tile or entry bundle: the partial one asked for, else (a log keeps only the
   * partial tiles of recent sizes) the wider partial of the largest checkpoint seen, else the
   * full one that replaced them; the caller takes the prefix it needs.
   */
  private async fetchTile(paths: readonly string[], cap: number, what: string): Promise<{ data: Uint8Array; path: string }> {
    for (const path of paths) {
      const data = await this.fetchBytes(`${this.url}${path}`, cap, what, true);
      if (data) return { data, path };
    }
    throw new LogOutage(`the transparency log at ${this.url} does not serve ${paths[0]} (HTTP 404)`);
  }

  /** Widths to try for tile `index` of a level whose hashes (or entries) number `count` in a tree, asked at `width`. */
  private widths(width: number, index: number, levelCountAtLargest: number): number[] {
    const widest = Math.min(TILE_WIDTH, levelCountAtLargest - index * TILE_WIDTH);
    return [...new Set([width, ...(widest > width ? [widest] : []), TILE_WIDTH])];
  }

  /** Hash tile bytes, `width · 32` of them; served from the run's cache when it holds this tile or a wider one. */
  async readTile(tile: Tile): Promise<Uint8Array> {
    const key = `${tile.level}/${tile.index}`;
    const want = tile.width * 32;
    const cached = this.tiles.get(key);
    if (cached) {
      const data = await cached.catch(() => undefined);
      if (data && data.length >= want) return data.subarray(0, want);
    }
    const fetching = (async () => {
      const widths = this.widths(tile.width, tile.index, Math.floor(this.largestSize / TILE_WIDTH ** tile.level));
      const { data, path } = await this.fetchTile(
        widths.map((width) => formatTilePath({ ...tile, width })),
        TILE_BYTES_CAP,
        `tile ${formatTilePath(tile)}`,
      );
      const width = widths[widths.findIndex((w) => formatTilePath({ ...tile, width: w }) === path)]!;
      // A tile of the wrong size is refused here for wider ones; tileHashReader refuses the rest.
      if (width !== tile.width && data.length !== width * 32) throw new LogRejection({ code: "bad_tiles", message: `${this.host} served ${path} with ${data.length} bytes, not ${width * 32}` });
      return data;
    })();
    this.tiles.set(key, fetching);
    const data = await fetching;
    return data.length > want ? data.subarray(0, want) : data;
  }

  /** The entries of entry bundle `index` that a tree of `size` holds (1..256 of them). */
  async readEntries(index: number, size: number): Promise<Uint8Array[]> {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    const widths = this.widths(width, index, Math.max(size, this.largestSize));
    const { data, path } = await this.fetchTile(
      widths.map((w) => formatEntriesPath({ index, width: w })),
      ENTRY_BUNDLE_CAP,
      `entry bundle ${formatEntriesPath({ index, width })}`,
    );
    const served = widths[widths.findIndex((w) => formatEntriesPath({ index, width: w }) === path)]!;
    const parsed = parseEntryBundle(data, served);
    if (!parsed.ok) throw new LogRejection({ code: "bad_tiles", message: `${this.host} served a malformed ${path}: ${parsed.error}` });
    return parsed.value.slice(0, width);
  }

  /** A HashReader for the tree of `size` over the tiles, with the hashes it computed kept for the run. */
  hashReader(size: number): HashReader {
    let reader = this.readers.get(size);
    if (!reader) {
      const tiles = fastTileHashReader(size, (wanted) => Promise.all(wanted.map((tile) => this.readTile(tile))));
      const known = new Map<number, Hash>();
      reader = {
        async readHashes(indexes) {
          const missing = [...new Set(indexes.filter((i) => !known.has(i)))];
          if (missing.length > 0) {
            const hashes = await tiles.readHashes(missing);
            missing.forEach((index, i) => known.set(index, hashes[i]!));
          }
          return indexes.map((i) => known.get(i)!);
        },
      };
      this.readers.set(size, reader);
    }
    return reader;
  }

  /**
   * Proves from the tiles that `leaf` is entry `index` of the tree `signed` commits to. Throws
   * LogOutage when tiles cannot be read; a failed proof is the reason.
   */
  async proveInclusion(index: number, leaf: Hash, signed: Checkpoint): Promise<Result<true, string>> {
    if (index >= signed.size) return fail(`entry ${index} is not in the log's tree of size ${signed.size}`);
    const proof = await this.guardTiles(() => inclusionProof(signed.size, index, this.hashReader(signed.size)));
    if (!proof.ok) return fail(`no inclusion proof for entry ${index} from the log's tiles: ${proof.error}`);
    const verified = await verifyInclusion(proof.value, signed.size, index, leaf, signed.rootHash);
    return verified.ok ? ok(true) : fail(`the log's tiles do not prove entry ${index} in the tree of size ${signed.size}: ${verified.error}`);
  }

  /**
   * Proves that `older` (the smaller tree) is a prefix of `newer`, from the tiles of `newer`. A
   * failure is a LogRejection: `split_view` when the tiles are those of `newer` and its prefix
   * of `older`'s size has another root (two signed checkpoints that cannot both be true), else
   * `bad_tiles` (the log serves tiles that do not match its own checkpoint).
   */
  async proveConsistent(older: SignedCheckpoint, newer: SignedCheckpoint, names: { older: string; newer: string }): Promise<void> {
    const a = older.checkpoint;
    const b = newer.checkpoint;
    if (a.size > b.size) throw new Error("proveConsistent: the older checkpoint is the larger");
    const split = (detail: string) =>
      new LogRejection({
        code: "split_view",
        message: `SPLIT VIEW / LOG REWRITTEN: ${names.older} (${describeCheckpoint(a)}) and ${names.newer} (${describeCheckpoint(b)}) are both signed by the registry's key but cannot both be true: ${detail}`,
        expected: `${names.older}: ${describeCheckpoint(a)}`,
        actual: `${names.newer}: ${describeCheckpoint(b)}`,
      });
    if (a.size === b.size) {
      if (toBase64(a.rootHash) !== toBase64(b.rootHash)) throw split(`two different trees of size ${a.size}`);
      return;
    }
    if (a.size === 0) return; // verified below only for its root
    const reader = this.hashReader(b.size);
    const proof = await this.guardTiles(() => consistencyProof(b.size, a.size, reader));
    if (!proof.ok) throw new LogRejection({ code: "bad_tiles", message: `no consistency proof from the log's tiles of size ${b.size}: ${proof.error}` });
    const verified = await verifyConsistency(proof.value, b.size, a.size, a.rootHash, b.rootHash);
    if (verified.ok) return;
    // Which is it? The root the tiles give for the first a.size entries, if the same proof binds it to b's root.
    const prefix = await this.guardTiles(() => treeHash(a.size, reader));
    const tilesMatchNewer = prefix.ok && (await verifyConsistency(proof.value, b.size, a.size, prefix.value, b.rootHash)).ok;
    if (tilesMatchNewer) throw split(`the tree of ${names.newer} begins with a tree of size ${a.size} whose root is ${toBase64(prefix.value)}, not ${toBase64(a.rootHash)}`);
    throw new LogRejection({
      code: "bad_tiles",
      message: `${this.host} serves tiles that do not match its own checkpoint (${describeCheckpoint(b)}), so ${names.older} (${describeCheckpoint(a)}) cannot be proved a prefix of it: ${verified.error}`,
    });
  }

  /** The hashes of the complete subtrees that make up [0, size) (its binary decomposition), from the tiles of the tree of `treeSize`. */
  async frontier(size: number, treeSize: number): Promise<Hash[]> {
    const ranges: [number, number][] = [];
    let lo = 0;
    for (let bit = 2 ** 52; bit >= 1; bit /= 2) {
      if (lo + bit <= size) {
        ranges.push([lo, lo + bit]);
        lo += bit;
      }
    }
    const hashes = await this.guardTiles(() => rangeHashes(ranges, this.hashReader(treeSize)));
    if (!hashes.ok) throw new LogRejection({ code: "bad_tiles", message: `the log's tiles of size ${treeSize} do not give the tree of size ${size}: ${hashes.error}` });
    return hashes.value;
  }

  /** Runs a computation over tiles: LogOutage and LogRejection pass; anything else tileHashReader throws (a tile of the wrong size) is bad tiles. */
  private async guardTiles<T>(compute: () => Promise<T>): Promise<T> {
    try {
      return await compute();
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new LogRejection({ code: "bad_tiles", message: `${this.host} served unusable tiles: ${(err as Error).message}` });
    }
  }
}
