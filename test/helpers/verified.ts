/** @module A verification result to evaluate policy rules against (core/policy.ts), without signing anything. */

import type { Verified } from "../../src/core/index.js";

export const FIXTURE_PUBLISHER = "SHA256:pppppppppppppppppppppppppppppppppppppppppp0";

export const verifiedFixture = (overrides: Partial<Verified> = {}): Verified => ({
  name: "@acme/lib",
  version: "1.0.0",
  namespace: "@acme",
  digests: { sha256: "", sha512: "" },
  size: 10,
  publisher: { keyid: FIXTURE_PUBLISHER, createdAt: "2026-11-24T00:00:00.000Z" },
  registry: { keyid: "SHA256:rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr0", origin: "https://r" },
  sequence: 1,
  publishedAt: "2026-11-24T00:00:00.000Z",
  attributes: {},
  approval: null,
  ...overrides,
});
