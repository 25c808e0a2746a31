import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner, fromBase64, fromHex, toBase64, useNativeCrypto, utf8, type NativeCrypto } from "../../src/core/index.js";
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  keyHashOf,
  MAX_NOTE_SIGNATURES,
  newNoteSigner,
  newNoteVerifier,
  noteErrorText,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type NoteSignature,
  type NoteVerifier,
} from "../../src/core/note/index.js";
import { nodeNativeCrypto } from "../../scripts/cli/native-ed25519.js";

// golang.org/x/mod/sumdb/note: note.go package doc, note_test.go, example_test.go.
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"; // GenerateKey with an all-zero reader
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
const PETER_NOTE = `${TEXT}\n${PETER_SIG}`;

// c2sp.org/signed-note §Verifier keys, Example.
const C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const sig = (name: string, keyHash: number, base64: string): Omit<NoteSignature, "signature"> => ({ name, keyHash, base64 });
const strip = (sigs: readonly NoteSignature[]) => sigs.map(({ name, keyHash, base64 }) => ({ name, keyHash, base64 }));
const PETER = sig("PeterNeumann", 0xc74f20a3, PETER_SIG.slice(15, -1));
const ENOCH = sig("EnochRoot", 0xaf0cfe78, ENOCH_SIG.slice(12, -1));

async function verifier(vkey: string): Promise<NoteVerifier> {
  const v = await newNoteVerifier(vkey);
  if (!v.ok) throw new Error(v.error);
  return v.value;
}

beforeAll(() => useNativeCrypto(undefined));

describe.each<[string, NativeCrypto | undefined]>([
  ["WebCrypto", undefined],
  ["node:crypto", nodeNativeCrypto],
])("signed notes, native verifier %s", (_label, native) => {
  let peter: NoteVerifier;
  let enoch: NoteVerifier;
  beforeAll(async () => {
    useNativeCrypto(native);
    [peter, enoch] = await Promise.all([verifier(PETER_VKEY), verifier(ENOCH_VKEY)]);
  });
  afterAll(() => useNativeCrypto(undefined));

  it("open Go's example note with its vkey", async () => {
    const opened = await openNote(PETER_NOTE, [peter]);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.value.text).toBe(TEXT);
    expect(strip(opened.value.sigs)).toEqual([PETER]);
    expect(opened.value.unverifiedSigs).toEqual([]);
    expect(peter.keyHash).toBe(0xc74f20a3);
    // bytes in, same answer
    expect((await openNote(utf8(PETER_NOTE), [peter])).ok).toBe(true);
  });

  it("open the C2SP spec's example note", async () => {
    const opened = await openNote(C2SP_NOTE, [await verifier(C2SP_VKEY)]);
    expect(opened.ok && opened.value.text).toBe("This is an example message.\n");
  });

  it("sign like Go: same key, same bytes (Ed25519 is deterministic)", async () => {
    const signer = await newNoteSigner(PETER_SKEY);
    expect(signer.ok).toBe(true);
    if (!signer.ok) return;
    expect(signer.value.keyHash).toBe(0xc74f20a3);
    expect(await signNote(TEXT, signer.value)).toEqual({ ok: true, value: PETER_NOTE });
    // re-signing drops the key's old signature (Go's TestSign)
    const old = { text: TEXT, sigs: [{ ...PETER, base64: "x08go/ZJ", signature: new Uint8Array(0) }], unverifiedSigs: [] };
    expect(await signNote(old, signer.value)).toEqual({ ok: true, value: PETER_NOTE });
  });

  it("add a second signature to an opened note (Go's ExampleSign_add_signatures, EnochRoot = zero seed)", async () => {
    const opened = await openNote(PETER_NOTE, [peter]);
    if (!opened.ok) throw new Error("open");
    const skey = await formatSignerKey("EnochRoot", 0x01, new Uint8Array(32));
    const me = await newNoteSigner(skey);
    if (!me.ok) throw new Error(me.error);
    expect(await signNote(opened.value, me.value)).toEqual({ ok: true, value: `${TEXT}\n${PETER_SIG}${ENOCH_SIG}` });
  });

  it("keep unknown signatures apart, verify known ones (Go's TestOpen)", async () => {
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const one = await openNote(both, [peter]);
    expect(one.ok && [strip(one.value.sigs), strip(one.value.unverifiedSigs)]).toEqual([[PETER], [ENOCH]]);
    const two = await openNote(both, [peter, enoch]);
    expect(two.ok && [strip(two.value.sigs), two.value.unverifiedSigs]).toEqual([[PETER, ENOCH], []]);
    const none = await openNote(both, []);
    expect(none.ok).toBe(false);
    if (none.ok || none.error.code !== "unverified") throw new Error("expected unverified");
    expect(strip(none.error.note.unverifiedSigs)).toEqual([PETER, ENOCH]);
    expect(noteErrorText(none.error)).toBe("note has no verifiable signatures");
  });

  it("ignore a signature that shares only the name or only the key hash with a known key", async () => {
    const otherHash = PETER_SIG.replace("x08go", "xxxxo");
    const otherName = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    for (const line of [otherHash, otherName]) {
      const r = await openNote(`${TEXT}\n${line}${PETER_SIG}`, [peter]);
      expect(r.ok && [r.value.sigs.length, r.value.unverifiedSigs.length]).toEqual([1, 1]);
    }
  });

  it("refuse an ambiguous key only when it is used", async () => {
    const r = await openNote(`${TEXT}\n${ENOCH_SIG}`, [enoch, peter, enoch]);
    expect(r).toEqual({ ok: false, error: { code: "ambiguous-key", name: "EnochRoot", keyHash: 0xaf0cfe78 } });
    expect((await openNote(PETER_NOTE, [enoch, peter, enoch])).ok).toBe(true);
  });

  it("refuse a note with a bad signature by a known key", async () => {
    const bad = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    const r = await openNote(bad, [peter]);
    expect(r).toEqual({ ok: false, error: { code: "invalid-signature", name: "PeterNeumann", keyHash: 0xc74f20a3 } });
    if (!r.ok) expect(noteErrorText(r.error)).toBe("invalid signature for key PeterNeumann+c74f20a3");
  });

  it("drop repeated signatures (Go's duplicated verified and unverified signatures)", async () => {
    const enochABCD = `${ENOCH_SIG.slice(0, 60)}ABCD${ENOCH_SIG.slice(60)}`;
    const r = await openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${enochABCD}`, [peter]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(strip(r.value.sigs)).toEqual([PETER]);
    expect(strip(r.value.unverifiedSigs)).toEqual([ENOCH, { ...ENOCH, base64: enochABCD.slice(12, -1) }]);
  });

  it("verify a second, different signature by a known key too (the spec's MUST; Go skips it)", async () => {
    const forged = `${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    const r = await openNote(`${TEXT}\n${PETER_SIG}${forged}`, [peter]);
    expect(r).toEqual({ ok: false, error: { code: "invalid-signature", name: "PeterNeumann", keyHash: 0xc74f20a3 } });
  });

  it("any changed byte of the text or the signature line fails", async () => {
    const bytes = utf8(PETER_NOTE);
    for (let i = 0; i < bytes.length; i++) {
      const changed = Uint8Array.from(bytes);
      changed[i]! ^= 1 << (i % 8);
      const r = await openNote(changed, [peter]);
      expect(r.ok, `byte ${i}`).toBe(false);
    }
  });
});

describe("malformed notes are refused with a reason, never a throw", () => {
  let peter: NoteVerifier;
  beforeAll(async () => (peter = await verifier(PETER_VKEY)));

  it.each([
    ["no signatures", TEXT],
    ["only the blank line", `${TEXT}\n`],
    ["no final newline", `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
    ["a control character", `\x01${TEXT}\n${PETER_SIG}`],
    ["a carriage return", `${TEXT.replace("\n", "\r\n")}\n${PETER_SIG}`],
    ["a tab in the signature line", `${TEXT}\n${PETER_SIG.replace(" x08", "\tx08")}`],
    ["a bad key name", `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`],
    ["a plus in the key name", `${TEXT}\n${PETER_SIG.replace("PeterNeumann", "Peter+Neumann")}`],
    ["a no-break space in the key name", `${TEXT}\n${PETER_SIG.replace("PeterNeumann", "Peter\u00a0Neumann")}`],
    ["an unexpected line", `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
    ["a hyphen for the em dash", `${TEXT}\n${PETER_SIG.replace("—", "-")}`],
    ["two spaces", `${TEXT}\n${PETER_SIG.replace("— ", "—  ")}`],
    ["an empty signature", `${TEXT}\n— PeterNeumann \n`],
    ["a signature shorter than 5 bytes", `${TEXT}\n— PeterNeumann x08gow==\n`],
    ["non-canonical base64 (unpadded)", `${TEXT}\n${PETER_SIG.replace("=\n", "\n")}`],
    ["non-canonical base64 (trailing bits)", `${TEXT}\n${PETER_SIG.replace("AM=\n", "AN=\n")}`],
    ["a lone surrogate", `\ud800${TEXT}\n${PETER_SIG}`],
    ["too many signatures", `${TEXT}\n${PETER_SIG.repeat(MAX_NOTE_SIGNATURES + 1)}`],
    ["a huge note", `${"x".repeat(1 << 20)}\n\n${PETER_SIG}`],
    ["a huge signature line", `${TEXT}\n— PeterNeumann ${"A".repeat(9000)}\n`],
  ])("%s", async (_label, note) => {
    const r = await openNote(note, [peter]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("malformed");
  });

  it("invalid UTF-8 bytes", async () => {
    const r = await openNote(Uint8Array.from([0xff, ...utf8(PETER_NOTE)]), [peter]);
    expect(r).toEqual({ ok: false, error: { code: "malformed", reason: "invalid UTF-8" } });
    expect(parseNote(Uint8Array.from([0xc0, 0x80, 0x0a, 0x0a])).ok).toBe(false); // overlong NUL
  });

  it("a Go note with 100 signatures is still accepted (the spec requires at least 16)", async () => {
    expect((await openNote(`${TEXT}\n${PETER_SIG.repeat(MAX_NOTE_SIGNATURES)}`, [peter])).ok).toBe(true);
  });

  it("arbitrary bytes and strings never throw", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })), async (input) => {
        const r = await openNote(input, [peter]);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe("signing refuses what it could not open", () => {
  it.each([
    ["text without a final newline", "abc"],
    ["a control character", "a\tb\n"],
    ["a lone surrogate", "\udc00\n"],
  ])("%s", async (_label, text) => {
    const signer = await newNoteSigner(PETER_SKEY);
    if (!signer.ok) throw new Error(signer.error);
    const r = await signNote(text, signer.value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("malformed");
  });

  it("a signer with an invalid name, and existing signatures that do not match their key hash", async () => {
    const signer = await newNoteSigner(PETER_SKEY);
    if (!signer.ok) throw new Error(signer.error);
    expect((await signNote(TEXT, { ...signer.value, name: "bad name" })).ok).toBe(false);
    const bad = { text: TEXT, sigs: [{ name: "PeterNeumann", keyHash: 0xc74f20a3, base64: "BADHASH=", signature: new Uint8Array(0) }], unverifiedSigs: [] };
    expect((await signNote(bad)).ok).toBe(false);
    expect((await signNote({ text: TEXT, sigs: [{ ...bad.sigs[0]!, name: "a+b", base64: "ABCD" }], unverifiedSigs: [] })).ok).toBe(false);
  });
});

describe("keys", () => {
  it("the key hash is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]", async () => {
    const key = fromBase64("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")!.slice(1);
    expect(await keyHashOf("PeterNeumann", 0x01, key)).toBe(0xc74f20a3);
    expect(await formatVerifierKey("PeterNeumann", 0x01, key)).toBe(PETER_VKEY);
    const skey = await parseSignerKey(PETER_SKEY);
    expect(skey.ok && toBase64(skey.value.publicKey)).toBe(toBase64(key));
    expect(await formatSignerKey("PeterNeumann", 0x01, skey.ok ? skey.value.seed : new Uint8Array(32))).toBe(PETER_SKEY);
  });

  it("vkeys from a core Signer round-trip through parse and verify", async () => {
    const core = await createSigner(new Uint8Array(32).fill(9));
    const signer = await ed25519NoteSigner("registry.example/log", core);
    const vkey = await formatVerifierKey("registry.example/log", 0x01, core.publicKey);
    const parsed = await parseVerifierKey(vkey);
    expect(parsed.ok && parsed.value.keyHash).toBe(signer.keyHash);
    const v = await ed25519NoteVerifier("registry.example/log", core.publicKey);
    const signed = await signNote("hello\n", signer);
    if (!signed.ok || !v.ok) throw new Error("sign");
    expect((await openNote(signed.value, [v.value])).ok).toBe(true);
    expect((await openNote(signed.value, [await verifier(vkey)])).ok).toBe(true);
  });

  it("every substring and every byte increment of Go's vkey is refused (Go's TestNewVerifier)", async () => {
    const b = PETER_VKEY;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        expect((await parseVerifierKey(b.slice(i, j))).ok, b.slice(i, j)).toBe(false);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const changed = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expect((await parseVerifierKey(changed)).ok, changed).toBe(false);
    }
  });

  it("every substring and every byte increment of Go's signer key is refused (Go's TestNewSigner)", async () => {
    const b = PETER_SKEY;
    for (let i = 0; i <= b.length; i += 3) {
      for (let j = i + 1; j <= b.length; j += 2) {
        if (i === 0 && j === b.length) continue;
        expect((await parseSignerKey(b.slice(i, j))).ok, b.slice(i, j)).toBe(false);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const changed = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expect((await parseSignerKey(changed)).ok, changed).toBe(false);
    }
  });

  it.each([
    ["a wrong-length key with an adjusted hash (Go)", "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "malformed verifier key"],
    ["an unknown algorithm with an adjusted hash (Go)", "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "unknown signature type"],
    ["uppercase hex", "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed verifier key"],
    ["a wrong key hash", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key hash does not match the key"],
    ["a missing part", "PeterNeumann+c74f20a3", "malformed verifier key"],
    ["an empty name", "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed verifier key"],
    ["a trailing newline", `${PETER_VKEY}\n`, "malformed verifier key"],
  ])("refuse %s", async (_label, vkey, reason) => {
    expect(await parseVerifierKey(vkey)).toEqual({ ok: false, error: reason });
  });

  it("refuse a small-order key even with a matching hash", async () => {
    const identity = Uint8Array.of(1, ...new Uint8Array(31));
    const vkey = await formatVerifierKey("weak", 0x01, identity);
    expect(await parseVerifierKey(vkey)).toEqual({ ok: false, error: expect.stringContaining("small order") });
  });

  it("key names follow Go's isValidName", () => {
    for (const good of ["a", "example.com/log", "sum.golang.org", "ünï/cödé"]) expect(isValidKeyName(good), good).toBe(true);
    for (const bad of ["", "a b", "a+b", "a\u2003b", "a\u0085b", "a\u3000b", "a\nb"]) expect(isValidKeyName(bad), JSON.stringify(bad)).toBe(false);
  });
});

describe("properties", () => {
  const name = fc.stringMatching(/^[A-Za-z0-9._/-]{1,40}$/);
  const text = fc
    .array(fc.string({ unit: "grapheme", maxLength: 40 }).map((line) => line.replace(/[\x00-\x1f\ud800-\udfff]/g, "")), { minLength: 1, maxLength: 6 })
    .map((lines) => `${lines.join("\n")}\n`);

  it("sign then open round-trips, and any changed byte fails", async () => {
    const core = await createSigner(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!);
    await fc.assert(
      fc.asyncProperty(name, text, fc.nat(), async (keyName, body, position) => {
        const signer = await ed25519NoteSigner(keyName, core);
        const v = await ed25519NoteVerifier(keyName, core.publicKey);
        if (!v.ok) throw new Error(v.error);
        const signed = await signNote(body, signer);
        expect(signed.ok).toBe(true);
        if (!signed.ok) return;
        const opened = await openNote(signed.value, [v.value]);
        expect(opened.ok && opened.value.text).toBe(body);
        const bytes = utf8(signed.value);
        const changed = Uint8Array.from(bytes);
        const at = position % bytes.length;
        changed[at]! ^= 0x01 << (position % 7);
        expect((await openNote(changed, [v.value])).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
