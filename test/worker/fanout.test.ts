/**
 * The publish pump (src/worker/fanout.ts): one read of the upload feeds every consumer; the first
 * failure stops them all, so nothing waits for ever; a consumer done early just stops receiving.
 */

import { describe, expect, it } from "vitest";
import { fanOut, type Consumer } from "../../src/worker/fanout.js";

const CHUNKS = 20;

/** A source of CHUNKS chunks of 1 KiB that counts how many were pulled and whether it was cancelled; `failAt` errors instead of that chunk. */
function source(failAt?: number) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (state.pulled === failAt) return controller.error(new Error("upload broke"));
        if (state.pulled === CHUNKS) return controller.close();
        controller.enqueue(new Uint8Array(1024).fill(state.pulled++));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const readAll: Consumer<number> = async (stream) => {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
};

/** Settles within a second or fails the test: "never a hang". */
const settled = <T,>(promise: Promise<T>) => Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("hung")), 1000))]);

describe("fanOut", () => {
  it("hands every byte to every consumer", async () => {
    const { stream } = source();
    const fed = await settled(fanOut<[number, number, number]>(stream, [readAll, readAll, readAll]));
    expect(fed.failure).toBeNull();
    expect(fed.results.map((r) => r.status === "fulfilled" && r.value)).toEqual([CHUNKS * 1024, CHUNKS * 1024, CHUNKS * 1024]);
  });

  it.each([0, 1, 10, CHUNKS - 1])("a consumer that fails after %i chunks stops the others and the source", async (after) => {
    const { stream, state } = source();
    const failing: Consumer<never> = async (branch) => {
      const reader = branch.getReader();
      for (let i = 0; i < after; i++) await reader.read();
      throw new Error("store broke"); // without cancelling its stream: the others must not wait for it
    };
    const fed = await settled(fanOut<[never, number, number]>(stream, [failing, readAll, readAll]));
    expect(fed.failure).toMatchObject({ from: "consumer", index: 0 });
    expect(fed.results[0]).toMatchObject({ status: "rejected", reason: new Error("store broke") });
    // The others were stopped short of the end (or, at the very end, were already done).
    for (const r of fed.results.slice(1)) if (r.status === "fulfilled") expect(r.value).toBeLessThanOrEqual(CHUNKS * 1024);
    expect(state.cancelled || state.pulled === CHUNKS).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(after + 8);
  });

  it("a source that errors fails every consumer and is reported as the cause", async () => {
    const { stream } = source(5);
    const fed = await settled(fanOut<[number, number]>(stream, [readAll, readAll]));
    expect(fed.failure).toMatchObject({ from: "source" });
    expect(fed.results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("a consumer done early (it cancels) stops receiving; the others still get everything", async () => {
    const { stream, state } = source();
    const peek: Consumer<string> = async (branch) => {
      const reader = branch.getReader();
      await reader.read();
      await reader.cancel();
      return "not a package";
    };
    const fed = await settled(fanOut<[string, number]>(stream, [peek, readAll]));
    expect(fed.failure).toBeNull();
    expect(fed.results.map((r) => r.status === "fulfilled" && r.value)).toEqual(["not a package", CHUNKS * 1024]);
    expect(state.pulled).toBe(CHUNKS);
  });

  it("a consumer that returns without reading or cancelling does not hold the others back", async () => {
    const { stream } = source();
    const fed = await settled(fanOut<[string, number]>(stream, [async () => "done", readAll]));
    expect(fed.results.map((r) => r.status === "fulfilled" && r.value)).toEqual(["done", CHUNKS * 1024]);
  });

  it("reads ahead of the slowest consumer by a few chunks only", async () => {
    const { stream, state } = source();
    let go!: () => void;
    const gate = new Promise<void>((resolve) => (go = resolve));
    const slow: Consumer<number> = async (branch) => {
      await gate;
      return readAll(branch);
    };
    const fed = fanOut<[number, number]>(stream, [slow, readAll]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state.pulled).toBeLessThan(10);
    go();
    const done = await settled(fed);
    expect(done.results.map((r) => r.status === "fulfilled" && r.value)).toEqual([CHUNKS * 1024, CHUNKS * 1024]);
  });
});
