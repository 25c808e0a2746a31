/**
 * @module
 * The sequencer's C2SP tlog-witness client: before a checkpoint is published, each configured
 * witness is sent it with a consistency proof from the size that witness last cosigned, and the
 * cosignatures that come back (verified here) are added to the note.
 *
 * A witness that is down, slow or refuses does not stop the log: the checkpoint goes out with the
 * cosignatures it has, and consumers whose pins require a quorum of witnesses reject it until
 * enough witnesses cosign a later one. A refusal is logged for the operator (a witness refusing a
 * consistent log means the witness saw another tree: exactly what it is there to report).
 *
 * `LOG_WITNESSES`: one witness per line (or `;`), `<cosignature vkey> <URL prefix>`; the request
 * goes to `<URL prefix>add-checkpoint`.
 */

import {
  consistencyProof,
  fail,
  newCosignatureVerifier,
  ok,
  openNote,
  toBase64,
  type Hash,
  type HashReader,
  type NoteVerifier,
  type Result,
} from "../../core/index.js";

export interface Witness {
  vkey: string;
  /** Where add-checkpoint is posted. */
  url: string;
  verifier: NoteVerifier;
}

/** What the sequencer remembers per witness: the size it last cosigned (0: nothing yet). */
export interface WitnessSizes {
  get(vkey: string): number;
  set(vkey: string, size: number): void;
}

export interface WitnessDeps {
  witnesses: readonly Witness[];
  sizes: WitnessSizes;
  fetch: (request: Request) => Promise<Response>;
  /** Time allowed per witness request. */
  timeoutMs?: number;
}

const MAX_RESPONSE_BYTES = 16 * 1024;

export async function parseWitnesses(text: string | undefined): Promise<Result<Witness[], string>> {
  const witnesses: Witness[] = [];
  for (const line of (text ?? "").split(/[\n;]/).map((l) => l.trim()).filter(Boolean)) {
    const [vkey, url, extra] = line.split(/\s+/);
    if (!vkey || !url || extra) return fail(`LOG_WITNESSES: "${line.slice(0, 80)}" is not "<vkey> <URL prefix>"`);
    const verifier = await newCosignatureVerifier(vkey);
    if (!verifier.ok) return fail(`LOG_WITNESSES: ${vkey.slice(0, 80)}: ${verifier.error}`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail(`LOG_WITNESSES: ${url.slice(0, 80)} is not a URL`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return fail(`LOG_WITNESSES: ${url.slice(0, 80)} must be http(s)`);
    const prefix = parsed.href.endsWith("/") ? parsed.href : `${parsed.href}/`;
    witnesses.push({ vkey, url: `${prefix}add-checkpoint`, verifier: verifier.value });
  }
  return ok(witnesses);
}

/**
 * Cosignature lines for `checkpoint` (a signed note of a tree of `size`) from every witness that
 * gives one, each already verified. Never throws: a witness's failure is only logged.
 */
export async function collectCosignatures(deps: WitnessDeps, checkpoint: string, size: number, tree: HashReader): Promise<string[]> {
  const lines = await Promise.all(deps.witnesses.map((w) => cosignedBy(deps, w, checkpoint, size, tree).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)))));
  return lines.flatMap((line, i) => {
    if (line.ok) return [line.value];
    console.error(`log: witness ${deps.witnesses[i]!.verifier.name} did not cosign size ${size}: ${line.error}`);
    return [];
  });
}

async function cosignedBy(deps: WitnessDeps, witness: Witness, checkpoint: string, size: number, tree: HashReader): Promise<Result<string, string>> {
  // The witness's size is only a hint: a 409 tells the real one, and the request is made again once.
  for (let attempt = 0; attempt < 2; attempt++) {
    const old = Math.min(deps.sizes.get(witness.vkey), size);
    let hashes: readonly Hash[] = [];
    if (old !== 0 && old !== size) {
      const proof = await consistencyProof(size, old, tree);
      if (!proof.ok) return fail(`consistency proof from ${old}: ${proof.error}`);
      hashes = proof.value;
    }
    const body = `old ${old}\n${hashes.map((h) => `${toBase64(h)}\n`).join("")}\n${checkpoint}`;
    const response = await deps.fetch(new Request(witness.url, { method: "POST", body, signal: AbortSignal.timeout(deps.timeoutMs ?? 5000) }));
    const text = (await readCapped(response)).trim();
    if (response.status === 409 && /^(0|[1-9][0-9]{0,15})$/.test(text) && attempt === 0) {
      const theirs = Number(text);
      if (theirs > size) return fail(`it has cosigned size ${theirs}, larger than this log's ${size}: another tree?`);
      deps.sizes.set(witness.vkey, theirs);
      continue;
    }
    if (response.status !== 200) return fail(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    const line = text.split("\n").find((l) => l.startsWith(`— ${witness.verifier.name} `));
    if (!line) return fail("the answer has no cosignature by this witness");
    // Verified as consumers will: the line must open the note under the witness's key.
    const opened = await openNote(`${checkpoint}${line}\n`, [witness.verifier]);
    if (!opened.ok) return fail("its cosignature does not verify");
    deps.sizes.set(witness.vkey, size);
    return ok(`${line}\n`);
  }
  return fail("it answered 409 twice");
}

async function readCapped(response: Response): Promise<string> {
  const length = Number(response.headers.get("content-length") ?? "0");
  if (length > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    return "";
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  return new TextDecoder().decode(bytes.subarray(0, MAX_RESPONSE_BYTES));
}
