/**
 * @module
 * A registry's transparency log without the Worker: node:http on 127.0.0.1 (port 0) serving
 * `<url>/-/countersign/v1/log/checkpoint`, hash tiles and entry bundles built with the core
 * (storedHashes over an in-memory array, readTileData, formatEntryBundle, signNote with
 * logSigner), and the batch bundle API (`POST /-/countersign/v1/bundles`) for verification tests.
 *
 * A `LogTree` is one history of entries; the server publishes one tree at one size at a time
 * (`serve`), so a test can fork it (serve another tree of the same or a larger size), rewrite
 * it, tamper with any answer (`tamper`) or take it down (`down`: 503, or `close`).
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ED25519_TYPE,
  ed25519NoteSigner,
  formatCheckpoint,
  formatVerifierKey,
  logUrl,
  signIdentity,
  WELL_KNOWN_PATH,
  formatEntryBundle,
  formatTlogProof,
  genesisEntry,
  inclusionProof,
  leafHash,
  LOG_PATH,
  logOrigin,
  logSigner,
  parseEntriesPath,
  parseTilePath,
  readTileData,
  signNote,
  storedHashes,
  TILE_WIDTH,
  treeHash,
  utf8,
  fromBase64,
  type Bundle,
  type Hash,
  type HashReader,
  type NoteSigner,
  type Signer,
} from "../../src/core/index.js";
import { makeBundle, signerFromSeedByte } from "./bundles.js";

/** One history of log entries, with its stored hashes. */
export class LogTree {
  readonly entries: Uint8Array[] = [];
  private readonly hashes: Hash[] = [];
  readonly reader: HashReader = { readHashes: (indexes) => indexes.map((i) => this.hashes[i]!) };

  constructor(
    /** The registry origin (countersignature `registry.origin`). */
    readonly registryOrigin: string,
    readonly key: Signer,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  async append(...entries: Uint8Array[]): Promise<void> {
    for (const entry of entries) {
      const added = await storedHashes(this.entries.length, await leafHash(entry), this.reader);
      if (!added.ok) throw new Error(added.error);
      this.hashes.push(...added.value);
      this.entries.push(entry);
    }
  }

  /** Appends the genesis entry (index 0). */
  genesis(): Promise<void> {
    return this.append(genesisEntry(this.registryOrigin, this.key.keyid));
  }

  /** A countersigned bundle at the next index (its sequence), appended to this tree. */
  async publish(name: string, version: string, publisher: Signer, bytes: Uint8Array = utf8(`${name}@${version} contents`)): Promise<{ bundle: Bundle; index: number; sha512: string }> {
    const index = this.size;
    const made = await makeBundle({ publisher, registry: this.key, name, version, bytes, sequence: index, origin: this.registryOrigin });
    await this.append(fromBase64(made.bundle.countersignature.payload)!);
    return { bundle: made.bundle, index, sha512: made.digests.sha512 };
  }

  async root(size = this.size): Promise<Hash> {
    const root = await treeHash(size, this.reader);
    if (!root.ok) throw new Error(root.error);
    return root.value;
  }

  /**
   * The checkpoint of the first `size` entries, signed by `signer` (default: the registry key
   * under the log's name), then cosigned by `witnesses` (cosignature/v1 signers).
   */
  async checkpoint(size = this.size, signer: Signer = this.key, origin = logOrigin(this.registryOrigin), witnesses: readonly NoteSigner[] = []): Promise<string> {
    const text = formatCheckpoint({ origin, size, rootHash: await this.root(size), extensions: [] });
    const noteSigner = origin === logOrigin(this.registryOrigin) ? await logSigner(this.registryOrigin, signer) : await ed25519NoteSigner(origin, signer);
    const signed = await signNote(text, noteSigner, ...witnesses);
    if (!signed.ok) throw new Error(JSON.stringify(signed.error));
    return signed.value;
  }

  /** The tlog-proof of entry `index` in the tree of `size` (checkpoint text: given, or signed now). */
  async tlogProof(index: number, size = this.size, checkpoint?: string): Promise<string> {
    const proof = await inclusionProof(size, index, this.reader);
    if (!proof.ok) throw new Error(proof.error);
    return formatTlogProof({ index, proof: proof.value, checkpoint: checkpoint ?? (await this.checkpoint(size)) });
  }

  /** The body of a tile or entry bundle path in the tree of `size`, or undefined when that tree has no such tile. */
  async tile(path: string, size: number): Promise<Uint8Array | undefined> {
    if (path.startsWith("tile/entries/")) {
      const bundle = parseEntriesPath(path);
      if (!bundle.ok) return undefined;
      const start = bundle.value.index * TILE_WIDTH;
      if (start + bundle.value.width > size) return undefined;
      if (bundle.value.width < TILE_WIDTH && start + bundle.value.width !== Math.min(size, start + TILE_WIDTH)) return undefined;
      const formatted = formatEntryBundle(this.entries.slice(start, start + bundle.value.width));
      return formatted.ok ? formatted.value : undefined;
    }
    const tile = parseTilePath(path);
    if (!tile.ok) return undefined;
    const { level, index, width } = tile.value;
    const count = Math.floor(size / TILE_WIDTH ** level);
    if (index * TILE_WIDTH + width > count) return undefined;
    // Partial tiles only at the right edge of the published size, as a log serves them.
    if (width < TILE_WIDTH && index * TILE_WIDTH + width !== count) return undefined;
    const data = await readTileData(tile.value, this.reader);
    return data.ok ? data.value : undefined;
  }
}

export interface FakeLogServer {
  /** The registry's base URL and origin (`http://127.0.0.1:<port>`). */
  url: string;
  /** Every path asked, in order. */
  requests: string[];
  /**
   * Publishes `tree` at `size` (default its size): the checkpoint served, and the tiles of the
   * tree of `tilesSize` (default `size`; larger: a cache serving an older checkpoint).
   */
  serve(tree: LogTree, size?: number, checkpointText?: string, tilesSize?: number): Promise<void>;
  /** Serves exactly this checkpoint text (tiles stay those of the served tree). */
  serveCheckpointText(text: string): void;
  /** Rewrites any answer (path relative to the log prefix, e.g. `checkpoint` or `tile/entries/000.p/5`). */
  tamper: ((path: string, body: Uint8Array) => Uint8Array) | undefined;
  /** Bundles served by the batch API, by `name@version`. */
  bundles: Map<string, unknown>;
  /** Any other GET answers, by path: [status, body]. */
  routes: Map<string, [number, Uint8Array | string]>;
  /** 503 for every log request while true. */
  down: boolean;
  /** The signed identity document served at /.well-known/countersign.json (set by `serve` from the tree's key, with `log`). */
  identity: unknown;
  close(): Promise<void>;
}

/** Starts the server; build trees with `newTree(server.url)` and publish one with `serve`. */
export async function startFakeLog(): Promise<FakeLogServer> {
  let served: { tree: LogTree; size: number; checkpoint: string } | undefined;
  const state: FakeLogServer = {
    url: "",
    requests: [],
    async serve(tree, size = tree.size, checkpointText, tilesSize = size) {
      served = { tree, size: tilesSize, checkpoint: checkpointText ?? (await tree.checkpoint(size)) };
      const origin = logOrigin(tree.registryOrigin);
      const log = { url: logUrl(tree.registryOrigin), origin, key: await formatVerifierKey(origin, ED25519_TYPE, tree.key.publicKey) };
      state.identity = await signIdentity({ name: "fake", origin: tree.registryOrigin, namespaces: ["@acme"], log }, tree.key);
    },
    serveCheckpointText(text) {
      if (!served) throw new Error("serve a tree first");
      served = { ...served, checkpoint: text };
    },
    tamper: undefined,
    bundles: new Map(),
    routes: new Map(),
    down: false,
    identity: undefined,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    state.requests.push(path);
    const answer = (status: number, body: Uint8Array | string, type = "application/json") => res.writeHead(status, { "content-type": type }).end(typeof body === "string" ? body : Buffer.from(body));
    void (async () => {
      if (req.method === "POST" && path === "/-/countersign/v1/bundles") {
        let text = "";
        for await (const chunk of req) text += chunk;
        const asked = (JSON.parse(text) as { packages: string[] }).packages;
        const bundles = Object.fromEntries(asked.filter((k) => state.bundles.has(k)).map((k) => [k, state.bundles.get(k)]));
        return answer(200, JSON.stringify({ bundles }));
      }
      if (path === WELL_KNOWN_PATH && state.identity) return answer(200, JSON.stringify(state.identity));
      const route = state.routes.get(path);
      if (route) return answer(route[0], route[1], typeof route[1] === "string" ? "application/json" : "application/octet-stream");
      if (!path.startsWith(LOG_PATH)) return answer(404, '{"error":{"code":"not_found","message":"not found"}}');
      if (state.down) return answer(503, '{"error":{"code":"unavailable","message":"down"}}');
      const rest = path.slice(LOG_PATH.length);
      if (!served) return answer(404, '{"error":{"code":"not_found","message":"no log"}}');
      let body: Uint8Array | undefined = rest === "checkpoint" ? utf8(served.checkpoint) : await served.tree.tile(rest, served.size);
      if (!body) return answer(404, '{"error":{"code":"not_found","message":"no such tile"}}');
      if (state.tamper) body = state.tamper(rest, body);
      return answer(200, body, rest === "checkpoint" ? "text/plain; charset=utf-8" : "application/octet-stream");
    })().catch((err: unknown) => answer(500, JSON.stringify({ error: String(err) })));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** The registry key the fake logs sign with (seed byte 1), and a publisher (seed byte 2). */
export const registryKey = () => signerFromSeedByte(1);
export const publisherKey = (byte = 2) => signerFromSeedByte(byte);

/** A bundle with a tlog-proof attached (what the registry serves once the version is in a checkpoint). */
export function withProof(bundle: Bundle, tlogProof: string): Bundle & { tlogProof: string } {
  return { ...bundle, tlogProof };
}
