/**
 * POST /add-checkpoint as c2sp.org/tlog-witness specifies it, through the real Worker entry and
 * real local D1: a log growing 0 → 1 → 5 → 300 cosigned at every step (cosignatures checked with
 * the vkey the witness publishes), and every refusal with the spec's status code — 409 with the
 * witness's size, 404 for an unknown origin, 403 for a checkpoint the log did not sign, 400 for a
 * malformed body or an old size past the checkpoint, 413 past the size cap — none of which moves
 * the stored state.
 */

import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  COSIGNATURE_TYPE,
  cosignatureTimestamp,
  createSigner,
  formatCheckpoint,
  formatVerifierKey,
  fromBase64,
  openCheckpoint,
  signNote,
  toBase64,
  utf8,
} from "../../src/core/index.js";
import { MAX_BODY_BYTES } from "../../src/witness/request.js";
import {
  addBody,
  checkpointNote,
  growBody,
  logOf,
  logSigner,
  logVerifier,
  post,
  REGISTRY_ORIGIN,
  SECOND_SEED,
  stored,
  WITNESS_NAME,
  WITNESS_URL,
  witnessInfo,
  witnessVerifier,
} from "./helpers.js";

const TEST_SEED = "dGVzdC1vbmx5IHdpdG5lc3Mga2V5LCBub3Qgc2VjcmU=";

describe("GET / (and /witness)", () => {
  it("publishes the cosignature vkey (type 0x04) of the configured key and the logs it knows", async () => {
    const signer = await createSigner(fromBase64(TEST_SEED)!);
    const info = await witnessInfo();
    expect(info.name).toBe(WITNESS_NAME);
    expect(info.vkey).toBe(await formatVerifierKey(WITNESS_NAME, COSIGNATURE_TYPE, signer.publicKey));
    const [name, hash] = info.vkey.split("+", 2) as [string, string];
    expect(fromBase64(info.vkey.slice(name.length + hash.length + 2))![0]).toBe(0x04);
    expect(info.protocol).toBe("https://c2sp.org/tlog-witness");
    expect(info.addCheckpoint).toBe(`${WITNESS_URL}/add-checkpoint`);
    // WITNESS_LOGS mixes newlines, a comma, a comment and a repeated key (vitest.config.ts).
    expect(info.logs.map((log) => [log.origin, log.keys.length])).toEqual([
      [REGISTRY_ORIGIN, 1],
      ["a.test/log", 1],
      ["b.test/log", 1],
      ["c.test/log", 1],
      ["rotating.test/log", 2],
    ]);
    const alias = await SELF.fetch(`${WITNESS_URL}/witness`);
    expect(alias.status).toBe(200);
    expect(await alias.json()).toEqual(info);
  });
});

describe("a log growing 0 → 1 → 5 → 300", () => {
  it("is cosigned at every step, with cosignatures that verify under the published vkey", async () => {
    const witness = await witnessVerifier();
    const log = await logVerifier(REGISTRY_ORIGIN);
    const tree = await logOf(300);
    let old = 0;
    for (const size of [0, 1, 5, 300, 300]) {
      const note = await checkpointNote(REGISTRY_ORIGIN, tree, size);
      const before = Math.floor(Date.now() / 1000);
      const response = await post(addBody(old, await tree.proof(old, size), note));
      const body = await response.text();
      expect({ size, status: response.status, body }).toMatchObject({ status: 200 });
      expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      // One signature line by the witness, ending in a newline.
      expect(body).toMatch(new RegExp(`^— ${WITNESS_NAME.replace(".", "\\.")} [A-Za-z0-9+/]+=*\\n$`));
      // The client's way (the spec's): append the lines to the checkpoint and open it with the witness key.
      const opened = await openCheckpoint(note + body, REGISTRY_ORIGIN, log, [witness]);
      if (!opened.ok) throw new Error(`cosigned checkpoint does not open: ${JSON.stringify(opened.error)}`);
      expect(opened.value.checkpoint.size).toBe(size);
      expect(opened.value.cosignatures).toHaveLength(1);
      const time = cosignatureTimestamp(opened.value.cosignatures[0]!)!;
      expect(time).toBeGreaterThanOrEqual(before - 1);
      expect(time).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
      // Persisted before the answer.
      expect(await stored(REGISTRY_ORIGIN)).toEqual({ size, root: toBase64(await tree.root(size)) });
      old = size;
    }
  });

  it("cosignatures do not verify for another checkpoint", async () => {
    const tree = await logOf(7);
    const note = await checkpointNote("a.test/log", tree, 7);
    const response = await post(await growBody("a.test/log", tree, 0));
    expect(response.status).toBe(200);
    const lines = await response.text();
    const other = await checkpointNote("a.test/log", await logOf(7, "other"), 7);
    expect((await openCheckpoint(note + lines, "a.test/log", await logVerifier("a.test/log"), [await witnessVerifier()])).ok).toBe(true);
    expect(await openCheckpoint(other + lines, "a.test/log", await logVerifier("a.test/log"), [await witnessVerifier()])).toMatchObject({
      ok: false,
      error: { code: "invalid-signature", name: WITNESS_NAME },
    });
  });
});

describe("409 Conflict: old size is not the witness's", () => {
  it("answers text/x.tlog.size with the size last cosigned, and stores nothing", async () => {
    const tree = await logOf(40);
    expect((await post(await growBody("b.test/log", tree, 0, 20))).status).toBe(200);
    for (const old of [0, 5, 19, 21, 40]) {
      const response = await post(await growBody("b.test/log", tree, old, 40));
      expect(response.status).toBe(409);
      expect(response.headers.get("content-type")).toBe("text/x.tlog.size");
      expect(await response.text()).toBe("20\n");
    }
    expect(await stored("b.test/log")).toEqual({ size: 20, root: toBase64(await tree.root(20)) });
  });

  it("answers 0 for a log never cosigned (a client may ask with any old size to learn it)", async () => {
    const tree = await logOf(9);
    const response = await post(await growBody("rotating.test/log", tree, 3));
    expect(response.status).toBe(409);
    expect(await response.text()).toBe("0\n");
    expect(await stored("rotating.test/log")).toBeUndefined();
  });
});

describe("signatures", () => {
  it("404 for an origin the witness does not know (the spec's status), even with a valid signature", async () => {
    const tree = await logOf(3);
    const response = await post(await growBody("unknown.test/log", tree, 0));
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("unknown log origin\n");
    expect(await stored("unknown.test/log")).toBeUndefined();
  });

  it("403 for a checkpoint signed by another key under the log's name, or only by other keys", async () => {
    const tree = await logOf(3);
    const impostor = await logSigner(REGISTRY_ORIGIN, 0x02);
    const before = await stored(REGISTRY_ORIGIN);
    for (const signers of [[impostor], [await logSigner("someone.else/log")]]) {
      const note = await checkpointNote(REGISTRY_ORIGIN, tree, 3, signers);
      const response = await post(addBody(0, [], note));
      expect(response.status).toBe(403);
      expect(await response.text()).toMatch(/^checkpoint not signed by a key trusted for its origin: /);
    }
    expect(await stored(REGISTRY_ORIGIN)).toEqual(before);
  });

  it("403 for a bad signature by the log's own key, even beside a good one", async () => {
    const tree = await logOf(4);
    const note = await checkpointNote("c.test/log", tree);
    const [text, sigs] = note.split("\n\n") as [string, string];
    const raw = fromBase64(sigs.trim().split(" ")[2]!)!;
    raw[10]! ^= 1;
    const bad = `— c.test/log ${toBase64(raw)}\n`;
    for (const tampered of [`${text}\n\n${bad}`, `${text}\n\n${sigs}${bad}`]) {
      expect((await post(addBody(0, [], tampered))).status).toBe(403);
    }
    expect(await stored("c.test/log")).toBeUndefined();
  });

  it("ignores signatures by unknown keys (other witnesses' cosignatures), and accepts any configured key of a log", async () => {
    const tree = await logOf(6);
    const other = await signNote(
      formatCheckpoint({ origin: "rotating.test/log", size: 6, rootHash: await tree.root(6), extensions: [] }),
      await logSigner("rotating.test/log", SECOND_SEED),
      await logSigner("some-other-witness.example"),
    );
    if (!other.ok) throw new Error("signing failed");
    const response = await post(addBody(0, [], other.value));
    expect(response.status).toBe(200);
    expect(await stored("rotating.test/log")).toEqual({ size: 6, root: toBase64(await tree.root(6)) });
  });
});

describe("400 Bad Request", () => {
  it("for an old size larger than the checkpoint's", async () => {
    const tree = await logOf(10);
    const response = await post(addBody(11, [], await checkpointNote("a.test/log", tree, 10)));
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("old size 11 is larger than the checkpoint size 10\n");
  });

  it("for malformed bodies, without storing anything", async () => {
    const tree = await logOf(8);
    const note = await checkpointNote("c.test/log", tree);
    const proofLine = `${toBase64(new Uint8Array(32))}\n`;
    const [text] = note.split("\n\n") as [string, string];
    const notCheckpoint = await signNote("c.test/log\n8\nnot a hash\n", await logSigner("c.test/log"));
    const bodies: (string | Uint8Array)[] = [
      "",
      "\n",
      note,
      `\n${note}`,
      `old 0${note}`,
      `old 00\n\n${note}`,
      `old 01\n\n${note}`,
      `old -1\n\n${note}`,
      `old +1\n\n${note}`,
      `old  0\n\n${note}`,
      `old 0 \n\n${note}`,
      `Old 0\n\n${note}`,
      `old 0x0\n\n${note}`,
      `old 99999999999999999999\n\n${note}`,
      `old 0\r\n\r\n${note}`,
      `old 0\n${note}`, // no empty line before the checkpoint
      `old 0\n\n`,
      `old 0\n`,
      `old 0\nAAAA\n\n${note}`, // a proof line that is not 32 bytes
      `old 0\n${toBase64(new Uint8Array(33))}\n\n${note}`,
      `old 0\n${proofLine.replace("=", "")}\n${note}`, // not canonical base64
      `old 0\n ${proofLine}\n${note}`,
      `old 0\n${proofLine.repeat(64)}\n${note}`, // more than 63 proof lines
      `old 0\n\n${text}\n`, // a checkpoint without signatures
      `old 0\n\n${text}`,
      `old 0\n\n${note.replace("— ", "-- ")}`,
      `old 0\n\n${note.slice(0, -1)}`, // the last signature line does not end in a newline
      `old 0\n\n${note.replace("\n8\n", "\n08\n")}`, // a checkpoint that does not parse (and is not signed)
      `old 0\n\n${notCheckpoint.ok ? notCheckpoint.value : ""}`, // signed, but not a checkpoint
      `old 0\n\n${note.replace("c.test/log\n", "c.test/log\t\n")}`, // a control character
      new Uint8Array([...utf8("old 0\n\n"), 0xff, 0xfe, ...utf8(note)]), // not UTF-8
    ];
    for (const body of bodies) {
      const response = await post(body);
      const answer = await response.text();
      expect({ body: typeof body === "string" ? body.slice(0, 80) : "bytes", status: response.status }).toMatchObject({ status: 400 });
      expect(answer).toMatch(/^malformed request: [^\n]*\n$/);
    }
    // 63 proof lines is the spec's maximum: framing accepts it, then the proof is judged (422).
    expect((await post(`old 0\n${proofLine.repeat(63)}\n${note}`)).status).toBe(422);
    expect(await stored("c.test/log")).toBeUndefined();
  });

  it("413 for a body over the cap, declared or streamed", async () => {
    const tree = await logOf(2);
    const big = `${await growBody("c.test/log", tree, 0)}${"x".repeat(MAX_BODY_BYTES)}`;
    expect((await post(big)).status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(MAX_BODY_BYTES / 4));
        controller.close();
      },
    });
    const streamed = await SELF.fetch(`${WITNESS_URL}/add-checkpoint`, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await stored("c.test/log")).toBeUndefined();
  });
});

describe("routes", () => {
  it("404 for other paths, 405 for another method on /add-checkpoint; plain text, no stack", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["POST", "/"],
      ["POST", "/add-checkpoint/"],
      ["POST", "/witness/add-checkpoint"],
      ["GET", "/checkpoint"],
    ] as const) {
      const response = await SELF.fetch(`${WITNESS_URL}${path}`, { method, body: method === "POST" ? "old 0\n\n" : undefined });
      expect(response.status).toBe(404);
      expect(await response.text()).toBe("not found\n");
    }
    const get = await SELF.fetch(`${WITNESS_URL}/add-checkpoint`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });
});
