/** @module Property: flipping any bit of an envelope's payload or signature makes it fail to open. */

import fc from "fast-check";
import { expect } from "vitest";
import { fromBase64, toBase64, type Envelope } from "../../src/core/index.js";

/** Checks with fast-check that `opens` refuses `envelope` with any one byte of its payload or signature changed. */
export async function expectAnyChangedByteFails(envelope: Envelope, opens: (changed: Envelope) => Promise<{ ok: boolean }> | { ok: boolean }, numRuns = 150): Promise<void> {
  const payload = fromBase64(envelope.payload)!;
  const signature = fromBase64(envelope.signatures[0]!.sig)!;
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (inPayload, at, flip) => {
      const bytes = Uint8Array.from(inPayload ? payload : signature);
      bytes[at % bytes.length]! ^= flip;
      const changed = inPayload ? { ...envelope, payload: toBase64(bytes) } : { ...envelope, signatures: [{ ...envelope.signatures[0]!, sig: toBase64(bytes) }] };
      expect((await opens(changed)).ok).toBe(false);
    }),
    { numRuns },
  );
}
