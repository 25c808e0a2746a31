/**
 * @module
 * The package page's script (served by the Worker as one file, built by scripts/build.mjs): checks
 * the version's provenance chain in this browser, with WebCrypto, against the registry
 * fingerprint the user trusts. The logic is verify-version.ts; the page wiring is dom.ts.
 */

import { config } from "zod/mini";
import { startPage } from "./dom.js";

// The page's Content-Security-Policy allows no eval: tell zod not to probe for it (the probe
// would be reported as a violation) and to validate without compiled parsers.
config({ jitless: true });

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => startPage(window), { once: true });
else startPage(window);
