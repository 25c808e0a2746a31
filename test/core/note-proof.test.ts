import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { concatBytes, equalBytes, sha256, toBase64, useNativeCrypto, utf8 } from "../../src/core/index.js";
import { formatTlogProof, MAX_PROOF_HASHES, newCosignatureVerifier, newNoteVerifier, openCheckpoint, parseTlogProof, type TlogProof } from "../../src/core/note/index.js";

// Made with Python's `cryptography` and hashlib (see note-checkpoint.test.ts): a 2-leaf RFC 6962 tree
// of "leaf 0" and "leaf 1", the proof for index 0, the checkpoint signed by the log and cosigned.
const LOG_VKEY = "example.com/log+9be5d3c6+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
const WITNESS_VKEY = "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
const CHECKPOINT =
  "example.com/log\n2\n/F9riP+FVPdbsvnm85wxsZNtRLaSdu33sSBalVuXYeM=\n\n" +
  "— example.com/log m+XTxtnueUjuQbM37TdTHzWJxDcZ6ZUudc0RP1w15DkbO/UZGdHutlEkUbzNdDF9UXd9QOjNRFmmzdyLTi3BJhhfpwE=\n" +
  "— witness.example/w1 qkoJ0QAAAABlU/EAVCKemb200QvA2y8UApyPUqQeYsE2aksUXQu9f2Y4IP3Uu7XLPF9h8Us6InyRn5YTmwGlEUYy1qcghf4u0b11Ag==\n";
const PROOF = `c2sp.org/tlog-proof@v1\nindex 0\ny1o86GLD4yHz999tJpBUnpNqjjdxNarp89afaR9UfVs=\n\n${CHECKPOINT}`;

// The spec's example header lines (its checkpoint signatures are elided with "[...]").
const SPEC_HEAD =
  "c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\nindex 73894\n" +
  "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\nEKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n" +
  "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\nAHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\n";

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok: ${JSON.stringify(r.error)}`);
  return r.value;
};

beforeAll(() => useNativeCrypto(undefined));

describe("tlog-proof", () => {
  it("parse an independently made proof, open its checkpoint and check the inclusion by hand", async () => {
    const proof = ok(parseTlogProof(PROOF));
    expect(proof.index).toBe(0);
    expect(proof.extra).toBeUndefined();
    expect(proof.proof.map(toBase64)).toEqual(["y1o86GLD4yHz999tJpBUnpNqjjdxNarp89afaR9UfVs="]);
    expect(proof.checkpoint).toBe(CHECKPOINT);
    expect(formatTlogProof(proof)).toBe(PROOF);
    expect(parseTlogProof(utf8(PROOF))).toEqual({ ok: true, value: proof });

    const log = ok(await newNoteVerifier(LOG_VKEY));
    const witness = ok(await newCosignatureVerifier(WITNESS_VKEY));
    const opened = ok(await openCheckpoint(proof.checkpoint, "example.com/log", log, [witness]));
    expect(opened.cosignatures).toHaveLength(1);
    // RFC 6962 §2.1: leaf = H(0x00 ‖ entry), node = H(0x01 ‖ left ‖ right); index 0 of 2: root = node(leaf, proof[0])
    const leaf = await sha256(concatBytes(Uint8Array.of(0), utf8("leaf 0")));
    const root = await sha256(concatBytes(Uint8Array.of(1), leaf, proof.proof[0]!));
    expect(equalBytes(root, opened.checkpoint.rootHash)).toBe(true);
  });

  it("read the spec's example header (extra, index 73894, five hashes)", () => {
    const proof = ok(parseTlogProof(SPEC_HEAD + CHECKPOINT));
    expect(proof.index).toBe(73894);
    expect(proof.proof).toHaveLength(5);
    expect(new TextDecoder().decode(proof.extra!.subarray(0, 29))).toBe("age-v1.2.1-darwin-arm64.tar.g");
    expect(formatTlogProof(proof)).toBe(SPEC_HEAD + CHECKPOINT);
  });

  it("format(parse) round-trips, with and without extra", () => {
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        fc.maxSafeNat(),
        fc.array(hash, { maxLength: MAX_PROOF_HASHES }),
        (extra, index, hashes) => {
          const proof: TlogProof = extra === undefined ? { index, proof: hashes, checkpoint: CHECKPOINT } : { extra, index, proof: hashes, checkpoint: CHECKPOINT };
          const text = formatTlogProof(proof);
          expect(parseTlogProof(text)).toEqual({ ok: true, value: proof });
        },
      ),
      { numRuns: 300 },
    );
  });

  const hashLine = "y1o86GLD4yHz999tJpBUnpNqjjdxNarp89afaR9UfVs=\n";
  it.each([
    ["a missing header", PROOF.replace("c2sp.org/tlog-proof@v1\n", "")],
    ["another version", PROOF.replace("@v1", "@v2")],
    ["extra after index", PROOF.replace("index 0\n", "index 0\nextra AAAA\n")],
    ["extra not base64", PROOF.replace("index 0\n", "extra !!\nindex 0\n")],
    ["extra without its space", PROOF.replace("index 0\n", "extra\nindex 0\n")],
    ["a missing index", PROOF.replace("index 0\n", "")],
    ["a leading zero", PROOF.replace("index 0\n", "index 00\n")],
    ["a negative index", PROOF.replace("index 0\n", "index -5\n")],
    ["an index too large", PROOF.replace("index 0\n", "index 18446744073709551616\n")],
    ["two spaces", PROOF.replace("index 0\n", "index  0\n")],
    ["a short hash", PROOF.replace(hashLine, "YmFuYW5hcw==\n")],
    ["a 64-byte hash", PROOF.replace(hashLine, `${toBase64(new Uint8Array(64))}\n`)],
    ["a hash not base64", PROOF.replace(hashLine, "!!notbase64!!\n")],
    ["64 proof hashes", PROOF.replace(hashLine, hashLine.repeat(64))],
    ["no blank line", PROOF.replace(`${hashLine}\n`, hashLine)],
    ["no checkpoint", PROOF.slice(0, PROOF.indexOf(CHECKPOINT))],
    ["a checkpoint without signatures", PROOF.replace(/\n— [\s\S]*$/, "")],
    ["a checkpoint that is not a checkpoint", PROOF.replace("\n2\n", "\ntwo\n")],
    ["a checkpoint with a stray line", `${PROOF}stray\n`],
    ["a carriage return", PROOF.replace("index 0\n", "index 0\r\n")],
    ["an empty input", ""],
  ])("refuse %s", (_label, text) => {
    const r = parseTlogProof(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/\w/);
  });

  it("63 proof hashes are accepted", () => {
    expect(parseTlogProof(PROOF.replace(hashLine, hashLine.repeat(63))).ok).toBe(true);
  });

  it("format refuses what would not parse", () => {
    const good: TlogProof = { index: 0, proof: [], checkpoint: CHECKPOINT };
    expect(() => formatTlogProof({ ...good, index: -1 })).toThrow(RangeError);
    expect(() => formatTlogProof({ ...good, proof: [new Uint8Array(31)] })).toThrow(RangeError);
    expect(() => formatTlogProof({ ...good, proof: Array(64).fill(new Uint8Array(32)) })).toThrow(RangeError);
    expect(() => formatTlogProof({ ...good, checkpoint: "example.com/log\n2\n" })).toThrow(RangeError);
  });

  it("arbitrary input and any changed byte never throw", () => {
    const bytes = utf8(PROOF);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (position, xor) => {
        const changed = Uint8Array.from(bytes);
        changed[position % bytes.length]! ^= xor;
        parseTlogProof(changed);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), fc.uint8Array({ maxLength: 200 })), (input) => {
        parseTlogProof(input);
      }),
      { numRuns: 1000 },
    );
  });
});
