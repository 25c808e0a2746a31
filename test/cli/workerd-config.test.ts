/**
 * `npm start`'s V8 flags written into workerd's binary configuration (scripts/server/workerd-config.ts):
 * read back by a decoder written from the Cap'n Proto encoding spec, other segments left byte for
 * byte, anything unexpected refused, and — the test that matters — the real workerd binary reads
 * them: a flag V8 does not know makes it refuse to start, naming that flag.
 */

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { SERVER_V8_FLAGS, withV8Flags } from "../../scripts/server/workerd-config.js";

/** A message of `segments` (each a list of 64-bit words), standard framing. */
function frame(segments: bigint[][]): Uint8Array {
  const tableBytes = Math.ceil((4 + 4 * segments.length) / 8) * 8;
  const out = new Uint8Array(tableBytes + segments.reduce((n, s) => n + s.length * 8, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, segments.length - 1, true);
  segments.forEach((s, i) => view.setUint32(4 + 4 * i, s.length, true));
  let at = tableBytes;
  for (const words of segments) for (const word of words) (view.setBigUint64(at, word, true), (at += 8));
  return out;
}

/** An empty workerd Config: a root struct pointer to 1 data word and 7 null pointers. */
function emptyConfig(extraSegment?: bigint[]): Uint8Array {
  const root = 0n | (0n << 2n) | (1n << 32n) | (7n << 48n);
  const config = [root, 0n, ...Array.from({ length: 7 }, () => 0n)];
  return frame(extraSegment ? [config, extraSegment] : [config]);
}

/** Config.v8Flags read back by following the pointers (capnproto.org/encoding.html). */
function readV8Flags(message: Uint8Array): string[] {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const segments = view.getUint32(0, true) + 1;
  const base = Math.ceil((4 + 4 * segments) / 8) * 8;
  const word = (i: number) => view.getBigUint64(base + i * 8, true);
  const target = (at: number) => at + 1 + Number(BigInt.asIntN(30, (word(at) >> 2n) & 0x3fffffffn));
  const root = word(0);
  const slot = target(0) + Number((root >> 32n) & 0xffffn) + 2;
  const list = word(slot);
  expect(list & 3n).toBe(1n); // a list pointer
  expect((list >> 32n) & 7n).toBe(6n); // of pointers
  const count = Number(list >> 35n);
  return Array.from({ length: count }, (_, i) => {
    const at = target(slot) + i;
    const text = word(at);
    expect((text >> 32n) & 7n).toBe(2n); // of bytes
    const length = Number(text >> 35n);
    const start = base + target(at) * 8;
    expect(message[start + length - 1]).toBe(0); // NUL-terminated
    return new TextDecoder().decode(message.subarray(start, start + length - 1));
  });
}

describe("withV8Flags", () => {
  it("sets Config.v8Flags so that a Cap'n Proto reader finds exactly the flags given", () => {
    const flags = ["--gc-global", "--max-semi-space-size=4", "--a-flag-of-exactly-16"];
    expect(readV8Flags(withV8Flags(emptyConfig(), flags))).toEqual(flags);
  });

  it("leaves later segments byte for byte (their pointers are relative to themselves)", () => {
    const second = [0x0123456789abcdefn, 42n, 7n];
    const patched = withV8Flags(emptyConfig(second), SERVER_V8_FLAGS);
    expect(readV8Flags(patched)).toEqual(SERVER_V8_FLAGS);
    const view = new DataView(patched.buffer);
    expect(view.getUint32(8, true)).toBe(second.length);
    const tail = patched.subarray(patched.byteLength - second.length * 8);
    expect([0, 1, 2].map((i) => new DataView(tail.buffer, tail.byteOffset).getBigUint64(i * 8, true))).toEqual(second);
  });

  it("refuses what it does not understand rather than writing a broken configuration", () => {
    expect(() => withV8Flags(emptyConfig().subarray(0, 40), ["--x"])).toThrow(/segment table says/);
    const farRoot = frame([[2n, 0n]]); // a far pointer as root
    expect(() => withV8Flags(farRoot, ["--x"])).toThrow(/not a struct pointer/);
    const few = frame([[0n | (1n << 32n) | (2n << 48n), 0n, 0n, 0n]]); // only two pointers
    expect(() => withV8Flags(few, ["--x"])).toThrow(/no v8Flags field/);
    expect(() => withV8Flags(withV8Flags(emptyConfig(), ["--x"]), ["--y"])).toThrow(/already has V8 flags/);
  });
});

/** Runs workerd (the binary Miniflare runs) on `config` for at most `ms`: its exit code and stderr. */
function runWorkerd(config: Uint8Array, ms: number): Promise<{ code: number | null; stderr: string }> {
  const bin = (createRequire(createRequire(import.meta.url).resolve("miniflare"))("workerd") as { default: string }).default;
  return new Promise((resolve) => {
    const child = spawn(bin, ["serve", "--binary", "--experimental", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin!.end(config);
  });
}

describe("the real workerd reads the flags", () => {
  it("refuses to start on a flag V8 does not know, naming it; takes npm start's flags (and, with nothing to serve, exits 0)", async () => {
    const unknown = await runWorkerd(withV8Flags(emptyConfig(), ["--no-such-v8-flag-countersign"]), 10_000);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("unrecognized V8 flag; argv[1] = --no-such-v8-flag-countersign");
    expect(await runWorkerd(withV8Flags(emptyConfig(), SERVER_V8_FLAGS), 10_000)).toEqual({ code: 0, stderr: "" });
  }, 30_000);
});
