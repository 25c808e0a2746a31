import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createSigner, fromBase64, toBase64, useNativeCrypto, utf8 } from "../../src/core/index.js";
import {
  cosignatureMessage,
  cosignatureSigner,
  cosignatureTimestamp,
  cosignatureVerifier,
  ed25519NoteSigner,
  formatCheckpoint,
  formatSignerKey,
  newCosignatureSigner,
  newCosignatureVerifier,
  newNoteVerifier,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signNote,
  type Checkpoint,
  type NoteVerifier,
} from "../../src/core/note/index.js";

// x/mod sumdb: a real sum.golang.org tree head (transparency-dev/formats log/note_test.go).
const SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_NOTE =
  "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n";

// c2sp.org/tlog-checkpoint and tlog-cosignature examples (no public keys are given for them).
const C2SP_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const C2SP_WITNESS_LINE = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
const C2SP_LOG_LINE = "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

// Independent vectors: made with Python's `cryptography` Ed25519 (not this code), log seed 32×0x01,
// witness seed 32×0x07, root SHA-256("countersign"), time 1700000000.
const LOG_VKEY = "example.com/log+9be5d3c6+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
const WITNESS_VKEY = "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
const COSIGNED =
  "example.com/log\n2\n7t/XSeJkbeP7ZrRxzjkhd6NfNildZlFCNGJ/e1ooCXs=\n\n" +
  "— example.com/log m+XTxnOcbBDdXCkEU4uqvQKGt/RKdYnGUACN4h6URZlNqD2+QBkbJsCv33LYMgJcSMdfMqIIrDA2rvLG/d98GiS76gs=\n" +
  "— witness.example/w1 qkoJ0QAAAABlU/EAAPa+bi8u+SyAEWtLmLc4li+IMQFIjw1bh4LwjIWJYHL2c83KJAoGjZAC7maz74OwjCLkmL+hufQL3T5FLXYhBg==\n";

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok: ${JSON.stringify(r.error)}`);
  return r.value;
};

beforeAll(() => useNativeCrypto(undefined));

describe("checkpoints", () => {
  it("parse the spec's example and format it back byte for byte", () => {
    const cp = ok(parseCheckpoint(C2SP_CHECKPOINT));
    expect(cp.origin).toBe("example.com/behind-the-sofa");
    expect(cp.size).toBe(20852163);
    expect(toBase64(cp.rootHash)).toBe("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    expect(cp.extensions).toEqual([]);
    expect(formatCheckpoint(cp)).toBe(C2SP_CHECKPOINT);
    // and the whole example note is syntactically a note, with the log's and the witness's lines
    const note = ok(parseNote(`${C2SP_CHECKPOINT}\n${C2SP_LOG_LINE}${C2SP_WITNESS_LINE}`));
    expect(note.signatures.map((s) => [s.name, s.keyHash.toString(16)])).toEqual([
      ["example.com/behind-the-sofa", "33de0ae"],
      ["witness.example.com/w1", "8d66cf3f"],
    ]);
    expect(cosignatureTimestamp(note.signatures[1]!)).toBe(1679315147); // the spec's "time 1679315147"
  });

  it("open a real sum.golang.org tree head", async () => {
    const log = ok(await newNoteVerifier(SUMDB_VKEY));
    const opened = ok(await openCheckpoint(SUMDB_NOTE, "go.sum database tree", log));
    expect(opened.checkpoint.size).toBe(6476701);
    expect(opened.cosignatures).toEqual([]);
    expect(await openCheckpoint(SUMDB_NOTE, "sum.golang.org", log)).toEqual({ ok: false, error: { code: "checkpoint", reason: "checkpoint is for another origin" } });
  });

  it("keep extension lines", () => {
    const text = `${C2SP_CHECKPOINT}ext one\next two\n`;
    const cp = ok(parseCheckpoint(text));
    expect(cp.extensions).toEqual(["ext one", "ext two"]);
    expect(formatCheckpoint(cp)).toBe(text);
  });

  it.each([
    ["two lines", "Log\n123\n"],
    ["no final newline", "Log\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="],
    ["an empty origin", "\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a leading zero", "Log\n0123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a plus sign", "Log\n+123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a negative size", "Log\n-34\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a size too large", "Log\n3438945738945739845734895735\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a size above 2^53", "Log\n9007199254740992\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a size in hex", "Log\n0x10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a size with a space", "Log\n123 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
    ["a short root hash", "Log\n123\nYmFuYW5hcw==\n"],
    ["a root hash that is not base64", "Log\n123\nThisIsn'tBase64\n"],
    ["an unpadded root hash", "Log\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n"],
    ["a root hash with non-zero trailing bits", "Log\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n"],
    ["an empty extension line", `${C2SP_CHECKPOINT}\n`],
    ["a carriage return", "Log\r\n123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"],
  ])("refuse %s", (_label, text) => {
    const r = parseCheckpoint(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/\w/);
  });

  it("format refuses what would not parse", () => {
    const good: Checkpoint = { origin: "o", size: 1, rootHash: new Uint8Array(32), extensions: [] };
    expect(() => formatCheckpoint({ ...good, origin: "" })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...good, origin: "a\nb" })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...good, size: -1 })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...good, size: 1.5 })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...good, rootHash: new Uint8Array(31) })).toThrow(RangeError);
    expect(() => formatCheckpoint({ ...good, extensions: [""] })).toThrow(RangeError);
  });

  it("parse(format(x)) = x and format(parse(t)) = t", () => {
    const checkpoint = fc.record({
      origin: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\x00-\x1f\ud800-\udfff]/.test(s)),
      size: fc.maxSafeNat(),
      rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      extensions: fc.array(fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\x00-\x1f]/.test(s)), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(checkpoint, (cp) => {
        const text = formatCheckpoint(cp);
        const back = ok(parseCheckpoint(text));
        expect(back).toEqual(cp);
        expect(formatCheckpoint(back)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it("arbitrary text never throws", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), (text) => {
        const r = parseCheckpoint(text);
        if (r.ok) expect(formatCheckpoint(r.value)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("cosignatures", () => {
  let log: NoteVerifier;
  let witness: NoteVerifier;
  beforeAll(async () => {
    log = ok(await newNoteVerifier(LOG_VKEY));
    witness = ok(await newCosignatureVerifier(WITNESS_VKEY));
  });

  it("the key hash uses type 0x04", async () => {
    const key = ok(await parseVerifierKey(WITNESS_VKEY));
    expect(key.type).toBe(0x04);
    expect(witness.keyHash).toBe(0xaa4a09d1);
    expect((await newNoteVerifier(WITNESS_VKEY)).ok).toBe(false); // not a plain note key
    expect((await newCosignatureVerifier(LOG_VKEY)).ok).toBe(false);
  });

  it("the signed message is header, time line, checkpoint text", () => {
    expect(new TextDecoder().decode(cosignatureMessage(1679315147, C2SP_CHECKPOINT))).toBe(
      "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    );
    expect(() => cosignatureMessage(-1, C2SP_CHECKPOINT)).toThrow(RangeError);
  });

  it("verify an independently made cosigned checkpoint", async () => {
    const opened = ok(await openCheckpoint(COSIGNED, "example.com/log", log, [witness]));
    expect(opened.logSignature.name).toBe("example.com/log");
    expect(opened.cosignatures.map((s) => [s.name, cosignatureTimestamp(s)])).toEqual([["witness.example/w1", 1700000000]]);
    // the witness alone does not make a checkpoint
    const withoutLog = COSIGNED.replace(/— example\.com\/log .*\n/, "");
    expect(await openCheckpoint(withoutLog, "example.com/log", log, [witness])).toEqual({
      ok: false,
      error: { code: "checkpoint", reason: "checkpoint is not signed by the log" },
    });
  });

  it("reproduce the independent vector byte for byte (deterministic Ed25519, fixed clock)", async () => {
    const logSigner = await ed25519NoteSigner("example.com/log", await createSigner(new Uint8Array(32).fill(1)));
    const witnessSigner = await cosignatureSigner("witness.example/w1", await createSigner(new Uint8Array(32).fill(7)), () => 1700000000);
    const text = COSIGNED.slice(0, COSIGNED.indexOf("\n\n") + 1);
    expect(await signNote(text, logSigner, witnessSigner)).toEqual({ ok: true, value: COSIGNED });
    // and through a PRIVATE+KEY string of type 0x04
    const skey = await formatSignerKey("witness.example/w1", 0x04, new Uint8Array(32).fill(7));
    const fromKey = ok(await newCosignatureSigner(skey, () => 1700000000));
    expect(fromKey.keyHash).toBe(0xaa4a09d1);
  });

  it("a changed timestamp, checkpoint or signature byte fails", async () => {
    const line = COSIGNED.split("\n").find((l) => l.startsWith("— witness"))!;
    const raw = fromBase64(line.split(" ")[2]!)!;
    for (const at of [4, 11, 12, 40, 75]) {
      const changed = Uint8Array.from(raw);
      changed[at]! ^= 0x01;
      const note = COSIGNED.replace(line, `— witness.example/w1 ${toBase64(changed)}`);
      const r = await openCheckpoint(note, "example.com/log", log, [witness]);
      expect(r.ok, `byte ${at}`).toBe(false);
    }
    const wrongSize = COSIGNED.replace("\n2\n", "\n3\n");
    expect((await openNote(wrongSize, [witness])).ok).toBe(false);
  });

  it("a timestamp past 2^53 is refused, and a cosignature signs checkpoints only", async () => {
    const core = await createSigner(new Uint8Array(32).fill(7));
    const tooLate = await cosignatureSigner("witness.example/w1", core, () => 2 ** 53);
    await expect(signNote(C2SP_CHECKPOINT, tooLate)).rejects.toThrow(RangeError);
    const signer = await cosignatureSigner("witness.example/w1", core, () => 5);
    await expect(signNote("not a checkpoint\n", signer)).rejects.toThrow(RangeError);
    expect(cosignatureTimestamp({ signature: new Uint8Array(64) })).toBeUndefined();
    const big = new Uint8Array(72).fill(0xff);
    expect(cosignatureTimestamp({ signature: big })).toBeUndefined();
  });

  it("sign then verify round-trips for any checkpoint and time", async () => {
    const core = await createSigner(new Uint8Array(32).fill(7));
    const v = ok(await cosignatureVerifier("w", core.publicKey));
    await fc.assert(
      fc.asyncProperty(fc.maxSafeNat(), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: 2 ** 40 }), async (size, rootHash, time) => {
        const signer = await cosignatureSigner("w", core, () => time);
        const text = formatCheckpoint({ origin: "example.com/log", size, rootHash, extensions: [] });
        const signed = ok(await signNote(text, signer));
        const opened = ok(await openNote(signed, [v]));
        expect(cosignatureTimestamp(opened.sigs[0]!)).toBe(time);
        expect((await openNote(utf8(signed.replace(`\n${size}\n`, `\n${size + 1}\n`)), [v])).ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
