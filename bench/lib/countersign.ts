/**
 * @module
 * countersign as a team would run it: `npm start`'s server (dist/start.mjs: the Worker in
 * workerd, configured by Miniflare, storage persisted on disk) on a free port of 127.0.0.1, with its
 * own state directory; and publishing the benchmark tarballs to it over the native route.
 */

import { bufferSource } from "../../src/core/index.js";
import { adminApi } from "../../test/helpers/actors.js";
import { startLocalServer, type LocalServer } from "../../test/helpers/local-server.js";
import { encodeName, newPublisher, signedParts, uploadBody } from "../../test/helpers/publisher.js";
import type { Tarball } from "./packages.js";
import { pool } from "./util.js";

export { startLocalServer, type LocalServer };

/** Enrols a fresh publisher in @acme and publishes every tarball, `concurrency` at a time; returns the wall time. */
export async function publishToCountersign(server: LocalServer, tarballs: Tarball[], concurrency: number): Promise<number> {
  const start = performance.now();
  const publisher = await newPublisher();
  await adminApi(server, "POST", "/namespaces", { namespace: "@acme" });
  await adminApi(server, "POST", `/namespaces/${encodeURIComponent("@acme")}/keys`, { publicKey: publisher.publicKey });
  const { token } = (await adminApi(server, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })) as { token: string };
  await pool(tarballs, concurrency, async (t) => {
    const body = await uploadBody(await signedParts(publisher, t.name, "1.0.0", t.bytes));
    const response = await fetch(`${server.url}/-/countersign/v1/packages/${encodeName(t.name)}/1.0.0`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
      body: bufferSource(body),
    });
    if (response.status !== 201) throw new Error(`countersign publish ${t.name}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  });
  return performance.now() - start;
}
