/**
 * @module
 * V8 flags for `npm start`'s workerd, written into the binary configuration Miniflare generated
 * (Miniflare has no option for workerd's `Config.v8Flags`, and workerd takes them from no other
 * place). The configuration is a Cap'n Proto message; this edits it on the wire format
 * (capnproto.org/encoding.html) rather than pulling in a Cap'n Proto library for one field.
 *
 * Why these flags (bench/README.md, "Where the memory goes"): every request leaves JavaScript
 * wrappers whose native memory (requests, responses, bodies) is freed only when V8 collects
 * them, and V8 does not count that memory when it decides to. With young-generation collections
 * only, the wrappers that survive one pile up in the old generation and workerd grew to 550 MB
 * under load; every collection made full (`--gc-global`) and the young generation kept small
 * (`--max-semi-space-size=4`, MB) hold it near 130 MB for ≈ 9 % of throughput. workerd refuses
 * a flag V8 does not know, so a V8 that dropped one fails at start-up, loudly.
 */

export const SERVER_V8_FLAGS = ["--gc-global", "--max-semi-space-size=4"];

/** workerd's `struct Config`: `v8Flags @2 :List(Text)` is its third pointer. */
const V8_FLAGS_POINTER = 2;

const WORD = 8;

/**
 * `message` (a single Cap'n Proto message, standard framing, not packed) with `Config.v8Flags`
 * set to `flags`. Throws if it is not laid out as expected or already has V8 flags.
 */
export function withV8Flags(message: Uint8Array, flags: readonly string[]): Uint8Array {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const segments = view.getUint32(0, true) + 1;
  const tableBytes = Math.ceil((4 + 4 * segments) / WORD) * WORD;
  const sizes = Array.from({ length: segments }, (_, i) => view.getUint32(4 + 4 * i, true));
  const total = tableBytes + sizes.reduce((sum, words) => sum + words * WORD, 0);
  if (message.byteLength !== total) throw new Error(`not a Cap'n Proto message: ${message.byteLength} bytes, its segment table says ${total}`);

  // The root pointer (segment 0, word 0) must be a struct pointer to Config in segment 0.
  const root = view.getBigUint64(tableBytes, true);
  if ((root & 3n) !== 0n) throw new Error("the configuration's root is not a struct pointer in its first segment");
  const offset = Number(BigInt.asIntN(30, (root >> 2n) & 0x3fffffffn));
  const dataWords = Number((root >> 32n) & 0xffffn);
  const pointers = Number((root >> 48n) & 0xffffn);
  if (pointers <= V8_FLAGS_POINTER) throw new Error("the configuration's Config has no v8Flags field");
  const slot = 1 + offset + dataWords + V8_FLAGS_POINTER; // word index in segment 0
  if (view.getBigUint64(tableBytes + slot * WORD, true) !== 0n) throw new Error("the configuration already has V8 flags");

  // Appended to segment 0: the list of text pointers, then each text (NUL-terminated, padded).
  const texts = flags.map((flag) => new TextEncoder().encode(flag));
  const textWords = texts.map((bytes) => Math.ceil((bytes.length + 1) / WORD));
  const added = flags.length + textWords.reduce((sum, words) => sum + words, 0);
  const out = new Uint8Array(message.byteLength + added * WORD);
  const end0 = tableBytes + sizes[0]! * WORD;
  out.set(message.subarray(0, end0), 0);
  out.set(message.subarray(end0), end0 + added * WORD);
  const outView = new DataView(out.buffer);
  outView.setUint32(4, sizes[0]! + added, true);

  const listStart = sizes[0]!; // word index in segment 0
  const listPointer = (at: number, target: number, elementSize: bigint, count: number) =>
    outView.setBigUint64(tableBytes + at * WORD, 1n | (BigInt(target - at - 1) << 2n) & 0xfffffffcn | (elementSize << 32n) | (BigInt(count) << 35n), true);
  listPointer(slot, listStart, 6n, flags.length); // List(Text): pointers
  let next = listStart + flags.length;
  texts.forEach((bytes, i) => {
    listPointer(listStart + i, next, 2n, bytes.length + 1); // Text: bytes, with the NUL
    out.set(bytes, tableBytes + next * WORD);
    next += textWords[i]!;
  });
  return out;
}
