/** @module The ESM half of the runtime hook (registered by hook.ts): checks each loaded source. */

import { fileURLToPath } from "node:url";
import { createGuard, type GuardState } from "./guard.js";

let check: ((filename: string, bytes: Uint8Array | string) => void) | undefined;

export function initialize(state: GuardState): void {
  check = createGuard(state);
}

interface LoadResult {
  format?: string;
  source?: string | ArrayBuffer | Uint8Array | null;
}

export async function load(url: string, context: unknown, nextLoad: (url: string, context: unknown) => Promise<LoadResult>): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  // CommonJS sources arrive as null here and are checked by the CommonJS patch instead.
  if (check && url.startsWith("file:") && result.source != null) {
    const bytes = typeof result.source === "string" ? result.source : new Uint8Array(result.source instanceof ArrayBuffer ? result.source : result.source.buffer.slice(result.source.byteOffset, result.source.byteOffset + result.source.byteLength));
    check(fileURLToPath(url), bytes);
  }
  return result;
}
