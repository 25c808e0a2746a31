/**
 * @module
 * `LogSequencer`, the Durable Object that is the log's one writer (one instance, named "log"):
 * strongly consistent sequencing on Cloudflare's own engine, as Cloudflare's CT log (azul) does.
 * It holds the tree in its SQLite storage and runs the sequencer's rounds (sequencer.ts) one at a
 * time; callers that arrive during a round share the next one, so a burst of publishes costs a
 * few rounds, not one each.
 */

import { DurableObject } from "cloudflare:workers";
import { logOrigin, logSigner } from "../../core/index.js";
import { readConfig } from "../config.js";
import { currentSigner } from "../signing-key.js";
import { d1MetaStore } from "../storage/d1.js";
import type { Env } from "../env.js";
import { runRound, tlogProof, type SequencerDeps, type TreeState, type TreeStore } from "./sequencer.js";
import { d1EntrySource, r2LogFiles, sqlTreeStore, sqlWitnessSizes } from "./stores.js";
import { parseWitnesses, type Witness } from "./witnesses.js";

/** What a publish learns: the version's tlog-proof against the checkpoint that first covers it. */
export interface Logged {
  index: number;
  tlogProof: string;
  checkpoint: string;
}

export interface LogStatus {
  size: number;
  published: number;
  proved: number;
}

export interface LatestProofs {
  /** The checkpoint they are against; null (and no proofs) when the log has none yet. */
  checkpoint: string | null;
  proofs: (string | null)[];
}

/** Proofs per `proofs` call: the batch route's limit. */
const MAX_PROOFS = 2000;

/** Rounds a caller waits for before giving up on its entry (each round may integrate 1024). */
const MAX_ROUNDS_WAITED = 8;

export class LogSequencer extends DurableObject<Env> {
  private readonly tree: TreeStore;
  private current: Promise<TreeState> | null = null;
  private next: Promise<TreeState> | null = null;
  private witnesses: { config: string; list: Witness[] } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tree = sqlTreeStore(ctx.storage);
  }

  /** Integrates and publishes everything committed up to `index`; its tlog-proof. */
  async logged(index: number): Promise<Logged> {
    if (!Number.isSafeInteger(index) || index < 1) throw new RangeError(`log index must be a positive integer, not ${index}`);
    for (let rounds = 0; this.tree.state().published <= index; rounds++) {
      if (rounds === MAX_ROUNDS_WAITED) throw new Error(`log: entry ${index} is not committed (log size ${this.tree.state().published})`);
      await this.round();
    }
    const { published, checkpoint } = this.tree.state();
    return { index, checkpoint: checkpoint!, tlogProof: await tlogProof(this.tree, published, checkpoint!, index) };
  }

  /**
   * Tlog-proofs of `indexes` against the latest published checkpoint, null for an index it does
   * not cover. For the batch route: every bundle of one answer proved in one checkpoint, so a
   * client opens one checkpoint and proves one consistency, whenever each version was published.
   * Read only: stored hashes below the published size never change, whatever round runs.
   */
  async proofs(indexes: number[]): Promise<LatestProofs> {
    const { published, checkpoint } = this.tree.state();
    if (!checkpoint || !Array.isArray(indexes) || indexes.length > MAX_PROOFS) return { checkpoint: null, proofs: [] };
    const proofs: (string | null)[] = [];
    for (const index of indexes) proofs.push(Number.isSafeInteger(index) && index >= 1 && index < published ? await tlogProof(this.tree, published, checkpoint, index) : null);
    return { checkpoint, proofs };
  }

  /** One more round (the cron, and reads of a log that has no checkpoint yet). */
  async sync(): Promise<LogStatus> {
    const { size, published, proved } = await this.round();
    return { size, published, proved };
  }

  /** A round that reads D1 after this call: a new one, or the one queued behind the running one. */
  private round(): Promise<TreeState> {
    if (!this.current) {
      this.current = this.run().finally(() => {
        this.current = null;
      });
      return this.current;
    }
    // The running round may have read D1 before the caller's entry committed: queue one more,
    // shared by everyone who arrives until it starts.
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return this.round();
      });
    return this.next;
  }

  private async run(): Promise<TreeState> {
    return runRound(await this.deps());
  }

  private async deps(): Promise<SequencerDeps> {
    const config = readConfig(this.env);
    // The key that signs now (throws without REGISTRY_ORIGIN); entry 0 names the first key the
    // log had, whatever key signs today, so the tree's first leaf never changes.
    const rotations = await d1MetaStore(this.env.DB).rotations();
    const signer = await currentSigner(this.env, async () => rotations, { fresh: true });
    const origin = config.origin!;
    return {
      tree: this.tree,
      entries: d1EntrySource(this.env.DB),
      files: r2LogFiles(this.env.ARTIFACTS),
      signer: await logSigner(origin, signer),
      origin: logOrigin(origin),
      registry: { origin, keyid: rotations[0]?.from ?? signer.keyid },
      witnesses: { witnesses: await this.witnessList(), sizes: sqlWitnessSizes(this.ctx.storage), fetch: (request) => fetch(request) },
    };
  }

  /** LOG_WITNESSES, parsed once per configuration; a bad one stops the log (named, not ignored). */
  private async witnessList(): Promise<Witness[]> {
    const config = this.env.LOG_WITNESSES ?? "";
    if (this.witnesses?.config !== config) {
      const parsed = await parseWitnesses(config);
      if (!parsed.ok) throw new Error(`registry is misconfigured: ${parsed.error}`);
      this.witnesses = { config, list: parsed.value };
    }
    return this.witnesses.list;
  }
}
