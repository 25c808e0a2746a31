/**
 * Configuration and failure handling: a witness with a missing or bad variable answers 500 naming
 * the variable (never the secret's value), and a storage failure is a bare "internal error"
 * (never a stack or the storage's message). The app is called directly with altered bindings.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createWitnessApp } from "../../src/witness/app.js";
import type { WitnessEnv } from "../../src/witness/env.js";
import { growBody, logOf, WITNESS_URL, witnessInfo } from "./helpers.js";

async function call(app: ReturnType<typeof createWitnessApp>, bindings: WitnessEnv, method: string, path: string, body?: string) {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${WITNESS_URL}${path}`, { method, body }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return { status: response.status, text: await response.text() };
}

describe("misconfiguration", () => {
  const SECRET = "bm90IDMyIGJ5dGVz"; // "not 32 bytes"
  const cases: [string, Partial<WitnessEnv>, string][] = [
    ["no key", { WITNESS_SIGNING_KEY: undefined }, "WITNESS_SIGNING_KEY is not set"],
    ["a short key", { WITNESS_SIGNING_KEY: SECRET }, "WITNESS_SIGNING_KEY is not base64 of a 32-byte Ed25519 seed"],
    ["no name", { WITNESS_NAME: "" }, "WITNESS_NAME is not set"],
    ["a name with a space", { WITNESS_NAME: "my witness" }, "WITNESS_NAME is not a key name"],
    ["no logs", { WITNESS_LOGS: "# nothing yet\n" }, "WITNESS_LOGS names no log"],
    ["a log key that is not one", { WITNESS_LOGS: "example.com/log+00000000+AAAA" }, "WITNESS_LOGS entry 1 is not an Ed25519 note verifier key"],
  ];
  for (const [what, change, message] of cases) {
    it(`${what}: 500 naming the variable, on every route`, async () => {
      const bindings = { ...env, ...change } as WitnessEnv;
      for (const [method, path, body] of [
        ["GET", "/", undefined],
        ["POST", "/add-checkpoint", "old 0\n\n"],
      ] as const) {
        const response = await call(createWitnessApp(), bindings, method, path, body);
        expect(response.status).toBe(500);
        expect(response.text).toContain(`witness is misconfigured: ${message}`);
        expect(response.text).not.toContain(SECRET);
        expect(response.text).not.toContain(env.WITNESS_SIGNING_KEY!);
      }
    });
  }

  it("a cosignature key (type 0x04) is not accepted as a log key", async () => {
    const { vkey } = await witnessInfo();
    const response = await call(createWitnessApp(), { ...env, WITNESS_LOGS: vkey } as WitnessEnv, "GET", "/");
    expect(response.status).toBe(500);
    expect(response.text).toContain("not an Ed25519 note key (type 0x01)");
  });
});

describe("storage failure", () => {
  it("answers a bare 500 without the storage's message", async () => {
    const failing = () => ({
      latest: () => Promise.reject(new Error("D1_ERROR: secret internal detail")),
      swap: () => Promise.reject(new Error("D1_ERROR: secret internal detail")),
    });
    const tree = await logOf(3);
    const response = await call(createWitnessApp({ store: failing }), env, "POST", "/add-checkpoint", await growBody("a.test/log", tree, 0));
    expect(response).toEqual({ status: 500, text: "internal error\n" });
  });
});
