/**
 * Mutation fuzzing of add-checkpoint through the real Worker entry (fast-check, fixed seeds).
 * From a valid body moving the log 5 → 300, a few hundred bodies with bytes flipped, inserted or
 * deleted, lines dropped, repeated or swapped, the old size changed, or the end cut off; and a
 * hundred bodies of random bytes. Invariants: never a 5xx; never a 200 for a body whose checkpoint
 * is not the original one (and then the cosignature is for the original); and any refusal leaves
 * the stored state at 5.
 */

import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { concatBytes, fromUtf8, openCheckpoint, parseNote, toBase64, utf8 } from "../../src/core/index.js";
import { parseAddCheckpoint } from "../../src/witness/request.js";
import { growBody, logOf, logVerifier, post, REGISTRY_ORIGIN, stored, witnessVerifier, type MemoryLog } from "./helpers.js";

const REFUSALS = new Set([400, 403, 404, 409, 413, 422]);

let tree: MemoryLog;
let original: Uint8Array;
let originalText: string;
let at5: { size: number; root: string };

/** Puts the witness back at size 5 (test-only: straight into D1). */
async function reset() {
  await env.DB.prepare("INSERT OR REPLACE INTO witness_checkpoints (origin, size, root_hash, note, cosignature, updated_at) VALUES (?1, 5, ?2, 'reset', 'reset', 'reset')")
    .bind(REGISTRY_ORIGIN, at5.root)
    .run();
}

beforeAll(async () => {
  tree = await logOf(300);
  at5 = { size: 5, root: toBase64(await tree.root(5)) };
  original = utf8(await growBody(REGISTRY_ORIGIN, tree, 5, 300));
  const parsed = parseAddCheckpoint(original);
  if (!parsed.ok) throw new Error(parsed.error);
  const note = parseNote(parsed.value.note);
  if (!note.ok) throw new Error("no note");
  originalText = note.value.text;
});

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; byte: number }
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "drop-line" | "repeat-line"; line: number }
  | { kind: "swap-lines"; a: number; b: number }
  | { kind: "old"; size: number }
  | { kind: "truncate"; at: number };

// Bytes that matter to the format: newline, space, "=", "+", "/", digits, and the em dash's UTF-8.
const interesting = fc.constantFrom(0x0a, 0x20, 0x3d, 0x2b, 0x2f, 0x30, 0x35, 0xe2, 0x80, 0x94, 0x0d, 0x00);
const position = fc.nat({ max: 4096 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: position, byte: fc.oneof(interesting, fc.nat({ max: 255 })) }),
  fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }).chain((b) => fc.oneof(fc.constant(b), interesting.map((x) => Uint8Array.of(x)))) }),
  fc.record({ kind: fc.constantFrom("drop-line" as const, "repeat-line" as const), line: fc.nat({ max: 20 }) }),
  fc.record({ kind: fc.constant("swap-lines" as const), a: fc.nat({ max: 20 }), b: fc.nat({ max: 20 }) }),
  fc.record({ kind: fc.constant("old" as const), size: fc.oneof(fc.nat({ max: 400 }), fc.constantFrom(0, 4, 5, 6, 299, 300, 301)) }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
);

function lines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push(bytes.slice(start));
  return out;
}

const join = (parts: Uint8Array[]) => concatBytes(...parts);

function apply(body: Uint8Array, m: Mutation): Uint8Array {
  const at = body.length === 0 ? 0 : ("at" in m ? m.at : 0) % body.length;
  switch (m.kind) {
    case "flip":
      return Uint8Array.from(body, (b, i) => (i === at ? b ^ (1 << m.bit) : b));
    case "set":
      return Uint8Array.from(body, (b, i) => (i === at ? m.byte : b));
    case "delete":
      return join([body.slice(0, at), body.slice(at + m.length)]);
    case "insert":
      return join([body.slice(0, at), m.bytes, body.slice(at)]);
    case "truncate":
      return body.slice(0, at);
    case "old": {
      const first = body.indexOf(0x0a);
      return first < 0 ? body : join([utf8(`old ${m.size}`), body.slice(first)]);
    }
    default: {
      const all = lines(body);
      if (all.length === 0) return body;
      if (m.kind === "swap-lines") {
        const a = m.a % all.length;
        const b = m.b % all.length;
        [all[a], all[b]] = [all[b]!, all[a]!];
        return join(all);
      }
      const i = m.line % all.length;
      if (m.kind === "drop-line") all.splice(i, 1);
      else all.splice(i, 0, all[i]!);
      return join(all);
    }
  }
}

/** The checkpoint text of a body, if it has one. */
function checkpointTextOf(body: Uint8Array): string | undefined {
  const parsed = parseAddCheckpoint(body);
  if (!parsed.ok) return undefined;
  const note = parseNote(parsed.value.note);
  return note.ok ? note.value.text : undefined;
}

async function judge(body: Uint8Array): Promise<number> {
  await reset();
  const response = await post(body);
  const answer = await response.text();
  const what = () => `${response.status} for ${JSON.stringify(fromUtf8Lossy(body)).slice(0, 300)}: ${answer.slice(0, 200)}`;
  expect(response.status < 500, what()).toBe(true);
  if (response.status === 200) {
    // Only a body carrying the original checkpoint may be cosigned, and the cosignature is for it.
    expect(checkpointTextOf(body), what()).toBe(originalText);
    const note = parseAddCheckpoint(body);
    const opened = await openCheckpoint((note.ok ? note.value.note : "") + answer, REGISTRY_ORIGIN, await logVerifier(REGISTRY_ORIGIN), [await witnessVerifier()]);
    expect(opened.ok && opened.value.cosignatures.length, what()).toBe(1);
    expect(await stored(REGISTRY_ORIGIN)).toEqual({ size: 300, root: toBase64(await tree.root(300)) });
  } else {
    expect(REFUSALS.has(response.status), what()).toBe(true);
    expect(await stored(REGISTRY_ORIGIN), what()).toEqual(at5);
  }
  return response.status;
}

function fromUtf8Lossy(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch {
    return new TextDecoder().decode(bytes);
  }
}

describe("add-checkpoint fuzz", () => {
  it("the original body is cosigned (the fuzz starts from a valid request)", async () => {
    await judge(original);
  });

  it("300 mutated bodies: never 5xx, never a cosignature for another checkpoint, state unchanged on refusal", async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const status = await judge(mutations.reduce(apply, original));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { numRuns: 300, seed: 0x5eed_0a11, endOnFailure: true },
    );
    // The mutations reach every check: framing, signature, old size, proof.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 403, 409, 422]));
  }, 60_000);

  it("100 bodies of random bytes or text: never 5xx, never 200", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 600 }).map((s) => utf8(`old 5\n${s}`))), async (body) => {
        await reset();
        const response = await post(body);
        await response.text();
        expect(REFUSALS.has(response.status), `${response.status}`).toBe(true);
        expect(await stored(REGISTRY_ORIGIN)).toEqual(at5);
      }),
      { numRuns: 100, seed: 0x5eed_0b22, endOnFailure: true },
    );
  }, 60_000);
});
