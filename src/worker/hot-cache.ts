/**
 * @module
 * Per-isolate memory, so the hottest reads touch no storage at all: which bytes a name and
 * version serve (versions are immutable and cannot be unpublished), the bytes themselves
 * (content-addressed by sha512), and, for PACKUMENT_MEMORY_MS only, packuments just served.
 * All bounded, least recently used first out, well inside a Worker isolate's 128 MB. Tokens are
 * never kept: access is checked on every request before any of this is consulted.
 */

/** A Map in recency order, evicting the least recently used entries beyond `budget` units. */
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, { value: V; cost: number }>();
  #used = 0;

  constructor(
    private readonly budget: number,
    private readonly costOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    const cost = this.costOf(value);
    if (cost > this.budget) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#used -= old.cost;
      this.#entries.delete(key);
    }
    this.#entries.set(key, { value, cost });
    this.#used += cost;
    for (const [oldest, entry] of this.#entries) {
      if (this.#used <= this.budget) break;
      this.#entries.delete(oldest);
      this.#used -= entry.cost;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#used = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  get used(): number {
    return this.#used;
  }
}

/** What a published version's download needs: immutable once the version exists. */
export interface ArtifactFacts {
  name: string;
  version: string;
  sha512: string;
  size: number;
  /** Whether it is an npm package (served on the npm routes), not an opaque artifact. */
  npm: boolean;
}

/** Artifacts this small are kept in memory whole; larger ones stream from the edge cache or R2. */
export const MEMORY_ARTIFACT_MAX_BYTES = 1024 * 1024;

/** ≈ 200 bytes each: 20,000 versions are ≈ 4 MB. */
export const artifactFacts = new BoundedCache<string, ArtifactFacts>(20_000, () => 1);
/** At most 16 MiB of artifact bytes per isolate. */
export const artifactBytes = new BoundedCache<string, Uint8Array>(16 * 1024 * 1024, (bytes) => bytes.byteLength);

export const factsKey = (name: string, version: string) => `${name}@${version}`;

/**
 * How long a packument this isolate just served may be served again without asking D1; after
 * that, one query for the package's revision says whether it still stands. Any successful write
 * through this isolate forgets them all at once (app.ts), so locally, where one isolate serves
 * everything, a write is visible at once; on Cloudflare another isolate may serve the previous
 * document for at most this long (downstream HTTP caches may keep it longer: packuments go out
 * with `max-age=30`).
 */
export const PACKUMENT_MEMORY_MS = 2_000;

export interface RecentPackument {
  text: string;
  etag: string;
  /** The package's revision it was built at (PROTOCOL §11): later, the same revision means the same document. */
  revision: string;
  at: number;
}

/** At most 8 MiB of recently served packuments; one larger than 1 MiB is not kept. */
export const recentPackuments = new BoundedCache<string, RecentPackument>(8 * 1024 * 1024, (p) => (p.text.length > 1024 * 1024 ? Infinity : p.text.length));
