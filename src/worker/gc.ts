/**
 * @module
 * Blob garbage collection, run by a Cron Trigger (index.ts `scheduled`, wrangler.toml `[triggers]`).
 *
 * A publish writes the artifact to R2 before its commit, so one that is refused or fails after
 * that (a package the registry refuses, a lost race, a storage fault) leaves a blob that no
 * version references. Each run examines at most `maxExamined` blobs in key order, from where the
 * previous run stopped (`gc_state`; after the last key it starts over), and deletes those that are
 *
 *   - older than the grace period by R2's `uploaded` time (rewriting the same bytes refreshes it,
 *     so a publish in flight is never a candidate), and
 *   - referenced by no version: checked and claimed in one D1 statement (`blob_claims`).
 *
 * A claim also refuses the commit of any publish of the same bytes that overlaps it (storage/d1.ts
 * `commitVersion` answers `blob_collected`, the publish a 503), so the collector never deletes
 * bytes that a version is about to reference, even bytes re-uploaded while they are collected.
 * For that, R2's deletes are issued within `GC_DELETE_DEADLINE_MS` of the claim, well inside the
 * claim's window (`BLOB_CLAIM_SECONDS`); claims that took longer are left for a later run.
 *
 * Runs are idempotent: deleting an absent blob, or claiming one again, is harmless, and a run that
 * fails part-way keeps its old cursor, so the next run repeats its work.
 */

import type { BlobStore } from "./storage/blobs.js";
import type { MetaStore } from "./storage/meta.js";

/** Unreferenced blobs younger than this are kept. */
export const GC_GRACE_MS = 24 * 60 * 60 * 1000;
/** Blobs examined per run: five R2 list pages, five D1 statements and at most five R2 deletes. */
export const GC_MAX_EXAMINED = 5000;
/** A claim's deletes are issued within this time of claiming, or not at all (see BLOB_CLAIM_SECONDS). */
export const GC_DELETE_DEADLINE_MS = 30_000;
const PAGE = 1000;

export interface GcOptions {
  /** The run's time (the cron's scheduled time): blobs uploaded before `now - graceMs` may go. */
  now: Date;
  graceMs?: number;
  maxExamined?: number;
  /** Blobs per R2 list page (at most 1000). */
  pageSize?: number;
  /** The clock the delete deadline is measured with. */
  clock?: () => number;
}

export interface GcReport {
  examined: number;
  /** Old enough and unreferenced: claimed. */
  claimed: number;
  deleted: number;
  /** Where the next run starts (null: from the first key). */
  next: string | null;
}

export async function collectBlobs(stores: { meta: MetaStore; blobs: BlobStore }, options: GcOptions): Promise<GcReport> {
  const { meta, blobs } = stores;
  const cutoff = options.now.getTime() - (options.graceMs ?? GC_GRACE_MS);
  const maxExamined = options.maxExamined ?? GC_MAX_EXAMINED;
  const pageSize = Math.min(options.pageSize ?? PAGE, PAGE);
  const clock = options.clock ?? Date.now;
  const report: GcReport = { examined: 0, claimed: 0, deleted: 0, next: null };

  let after = await meta.gcCursor();
  while (report.examined < maxExamined) {
    const page = await blobs.list(after, Math.min(pageSize, maxExamined - report.examined));
    report.examined += page.blobs.length;
    const old = page.blobs.filter((b) => b.uploaded.getTime() < cutoff).map((b) => b.sha512);
    if (old.length > 0) {
      const claiming = clock();
      const claimed = await meta.claimUnreferencedBlobs(old);
      report.claimed += claimed.length;
      // Past the deadline the claim may be about to expire: leave these for the next cycle.
      if (claimed.length > 0 && clock() - claiming <= GC_DELETE_DEADLINE_MS) {
        await blobs.delete(claimed);
        report.deleted += claimed.length;
      }
    }
    after = page.more ? page.last : null;
    if (!after) break;
  }
  await meta.saveGcCursor(after);
  report.next = after;
  return report;
}
