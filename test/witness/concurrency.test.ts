/**
 * The race c2sp.org/tlog-witness warns of: two add-checkpoint calls checked against the same
 * stored size must not both be cosigned, or the one answered last rolls the log back. Through the
 * Worker entry, with both requests in flight at once; with an interleaving forced so that both
 * read the state before either writes; and against D1 directly. A store without compare-and-swap
 * fails the forced interleaving, so the test does catch the race.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../src/core/index.js";
import { createWitnessApp } from "../../src/witness/app.js";
import type { StoredCheckpoint, WitnessStore } from "../../src/witness/store.js";
import { growBody, logOf, post, store, stored, WITNESS_URL } from "./helpers.js";

async function outcome(response: Response) {
  return { status: response.status, body: await response.text() };
}

/** Both requests read the stored state before either may swap. */
function barrierStore(inner: WitnessStore, readers = 2): WitnessStore {
  let waiting = 0;
  let release!: () => void;
  const allRead = new Promise<void>((resolve) => (release = resolve));
  return {
    async latest(origin) {
      const value = await inner.latest(origin);
      if (++waiting === readers) release();
      await allRead;
      return value;
    },
    swap: (origin, expected, next) => inner.swap(origin, expected, next),
  };
}

/** Check-then-write without the check in the write: what the spec forbids. */
function naiveStore(inner: WitnessStore): WitnessStore {
  return {
    latest: (origin) => inner.latest(origin),
    async swap(origin, _expected, next: StoredCheckpoint) {
      await env.DB.prepare("INSERT OR REPLACE INTO witness_checkpoints (origin, size, root_hash, note, cosignature, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(origin, next.size, toBase64(next.rootHash), next.note, next.cosignature, next.updatedAt)
        .run();
      return { swapped: true };
    },
  };
}

async function viaApp(app: ReturnType<typeof createWitnessApp>, body: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${WITNESS_URL}/add-checkpoint`, { method: "POST", body }), env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("concurrent add-checkpoint from the same old size", () => {
  it("through the Worker: exactly one is cosigned, the other gets 409 with the winner's size", async () => {
    const tree = await logOf(400);
    expect((await post(await growBody("a.test/log", tree, 0, 5))).status).toBe(200);

    // The same checkpoint twice.
    const same = await growBody("a.test/log", tree, 5, 300);
    const twice = await Promise.all([post(same), post(same)].map(async (r) => outcome(await r)));
    expect(twice.map((o) => o.status).sort()).toEqual([200, 409]);
    expect(twice.find((o) => o.status === 409)!.body).toBe("300\n");

    // Two different sizes: whichever wins, the loser learns its size and nothing rolls back.
    const bodies = [await growBody("a.test/log", tree, 300, 350), await growBody("a.test/log", tree, 300, 400)];
    const raced = await Promise.all(bodies.map(async (body) => outcome(await post(body))));
    expect(raced.map((o) => o.status).sort()).toEqual([200, 409]);
    const winner = raced[0]!.status === 200 ? 350 : 400;
    expect(raced.find((o) => o.status === 409)!.body).toBe(`${winner}\n`);
    expect(await stored("a.test/log")).toEqual({ size: winner, root: toBase64(await tree.root(winner)) });
  });

  it("when both have read the state before either writes: the compare-and-swap lets one through", async () => {
    const tree = await logOf(60);
    expect((await post(await growBody("b.test/log", tree, 0, 10))).status).toBe(200);
    const shared = barrierStore(store()); // one barrier for both requests
    const app = createWitnessApp({ store: () => shared });
    // Request A moves 10 → 60, request B 10 → 20; both are consistent with size 10.
    const [a, b] = await Promise.all([viaApp(app, await growBody("b.test/log", tree, 10, 60)), viaApp(app, await growBody("b.test/log", tree, 10, 20))]);
    const results = [await outcome(a), await outcome(b)];
    expect(results.map((o) => o.status).sort()).toEqual([200, 409]);
    const winner = results[0]!.status === 200 ? 60 : 20;
    expect(results.find((o) => o.status === 409)!.body).toBe(`${winner}\n`);
    expect(await stored("b.test/log")).toEqual({ size: winner, root: toBase64(await tree.root(winner)) });
  });

  it("(control) the same interleaving against a store without compare-and-swap cosigns both: the rollback race", async () => {
    const tree = await logOf(60);
    expect((await post(await growBody("c.test/log", tree, 0, 10))).status).toBe(200);
    const shared = barrierStore(naiveStore(store()));
    const app = createWitnessApp({ store: () => shared });
    const responses = await Promise.all([viaApp(app, await growBody("c.test/log", tree, 10, 60)), viaApp(app, await growBody("c.test/log", tree, 10, 20))]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
  });

  it("D1 itself: two swaps from the same expected state, exactly one happens", async () => {
    const tree = await logOf(30);
    const d1 = store();
    const at = async (size: number): Promise<StoredCheckpoint> => ({ size, rootHash: await tree.root(size), note: `n${size}`, cosignature: `c${size}`, updatedAt: new Date().toISOString() });
    // First checkpoint (nothing stored): INSERT … ON CONFLICT DO NOTHING.
    const first = await Promise.all([d1.swap("rotating.test/log", undefined, await at(3)), d1.swap("rotating.test/log", undefined, await at(4))]);
    expect(first.filter((o) => o.swapped)).toHaveLength(1);
    const now = (await d1.latest("rotating.test/log"))!;
    // Later: UPDATE … WHERE size = ? AND root_hash = ?.
    const next = await Promise.all([d1.swap("rotating.test/log", now, await at(20)), d1.swap("rotating.test/log", now, await at(30))]);
    expect(next.filter((o) => o.swapped)).toHaveLength(1);
    const lost = next.find((o) => !o.swapped);
    expect(lost && !lost.swapped && lost.current?.size).toBe((await d1.latest("rotating.test/log"))!.size);
    // A stale expectation (right size, wrong root) never swaps.
    const latest = (await d1.latest("rotating.test/log"))!;
    expect((await d1.swap("rotating.test/log", { size: latest.size, rootHash: await tree.root(1) }, await at(30))).swapped).toBe(false);
  });
});
