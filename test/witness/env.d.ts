import type { D1Migration } from "@cloudflare/vitest-pool-workers";
import type { WitnessEnv } from "../../src/witness/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends WitnessEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
