/**
 * @module
 * The Worker entry: the app with R2 and D1 storage (`fetch`), and the blob collector, run by the
 * Cron Trigger in wrangler.toml (`scheduled`, gc.ts, then a log round: log/durable.ts), and the log's
 * Durable Object class.
 */

import { createApp } from "./app.js";
import type { Env } from "./env.js";
import { collectBlobs } from "./gc.js";
import { durableLog } from "./log/handle.js";
import { r2BlobStore } from "./storage/blobs.js";
import { d1MetaStore } from "./storage/d1.js";
import { d1StagingStore } from "./storage/staging.js";

const app = createApp();

export { LogSequencer } from "./log/durable.js";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    // Staged versions past their approval window first: their blobs are then the collector's too.
    const expired = await d1StagingStore(env.DB).expire(new Date(controller.scheduledTime));
    if (expired) console.log(`staging: ${expired} staged version(s) expired unapproved and were deleted`);
    const report = await collectBlobs({ meta: d1MetaStore(env.DB), blobs: r2BlobStore(env.ARTIFACTS) }, { now: new Date(controller.scheduledTime) });
    console.log(`blob gc: examined ${report.examined}, deleted ${report.deleted} of ${report.claimed} unreferenced, next run ${report.next ? "continues" : "starts over"}`);
    // Versions a failed round left out of the log, and bundles still without a proof (backfill).
    const log = await durableLog(env).sync();
    console.log(`log: size ${log.published}, proofs written below ${log.proved}`);
  },
} satisfies ExportedHandler<Env>;
