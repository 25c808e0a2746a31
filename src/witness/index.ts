/**
 * @module
 * The countersign witness Worker (c2sp.org/tlog-witness): cosigns the checkpoints of the logs it
 * is configured for, after checking each is consistent with the last one it cosigned. Deployed
 * on its own (witness.wrangler.toml), usually in another Cloudflare account than the registry's:
 * a witness run by the log's operator proves nothing.
 */

import { createWitnessApp } from "./app.js";
import type { WitnessEnv } from "./env.js";

const app = createWitnessApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<WitnessEnv>;
