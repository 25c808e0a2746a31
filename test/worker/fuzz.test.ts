/**
 * Request fuzzing against the real Worker entry (SELF.fetch), deterministic and bounded:
 * a seeded PRNG (mulberry32, fixed seed; test/helpers/fuzz-requests.ts) builds FUZZ_REQUESTS requests over every route family
 * (packuments, versions, tarballs, dist-tags, search, ping/whoami, identity, the native API,
 * bundles, reviews, admin, random paths) with odd names and encodings, odd headers, odd tokens
 * and odd bodies. Invariants:
 *   - no response has status >= 500;
 *   - every 4xx is JSON (application/json) in a documented shape: `{ error: { code, message } }`,
 *     or npm's `{ error, code }` on the npm front door;
 *   - nothing changes: every D1 table, the R2 keys and the public reads of a fixture published
 *     before the fuzz are identical afterwards;
 *   - the Worker still answers normal requests.
 * Requests that could legitimately change state (a privileged token with a well-formed body)
 * are never generated: privileged tokens only ever travel with bodies that cannot be valid.
 */

import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/worker/index.js";
import { beforeAll, describe, expect, it } from "vitest";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { API, describeRequest, judgeResponse, makeRequest, NAME, prng, WELL_KNOWN, type Failure, type FuzzRequest } from "../helpers/fuzz-requests.js";
import { ADMIN_TOKEN, admin, call, enrol, ORIGIN } from "./helpers.js";

const SEED = 0x5eed_c0de;
const FUZZ_REQUESTS = 30_000;
const PARALLEL = 32;
/** This many requests (the first ones) go through SELF.fetch; see `dispatch`. */
const VIA_SELF = 150;
const REQUEST_TIMEOUT_MS = 3_000;

let publisher: Publisher;
let publishToken: string; // may publish in @fz: only ever sent with bodies that cannot be valid
let otherToken: string; // publish token for @other: may not touch @fz
let toolToken: string; // may publish fz-tool: privileged like publishToken
let readToken: string;
let fixtureKeyid: string;

async function publishNpm(name: string, version: string, tag?: string, token = publishToken) {
  const bytes = await npmTarball({ name, version, description: `fuzz fixture ${version}`, keywords: ["fuzz"], main: "index.js" });
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}${tag ? `?tag=${tag}` : ""}`, {
    body: await uploadBody(await signedParts(publisher, name, version, bytes)),
    token,
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  publisher = await newPublisher();
  publishToken = await enrol("@fz", publisher);
  otherToken = await enrol("@other", await newPublisher());
  toolToken = await enrol("fz-tool", publisher);
  readToken = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
  await publishNpm(NAME, "1.0.0");
  await publishNpm(NAME, "1.1.0");
  await publishNpm(NAME, "2.0.0-rc.1", "next");
  await publishNpm("fz-tool", "0.1.0", undefined, toolToken);
  const keys = (await (await admin("GET", "/namespaces/@fz/keys")).json()) as { keys: { keyid: string }[] };
  fixtureKeyid = keys.keys[0]!.keyid;
});

// ---------------------------------------------------------------------------------------------
// State snapshots

async function snapshot(): Promise<Record<string, unknown>> {
  // bundle_digests is a memo that packument reads fill (migrations/0005), derived from versions and reviews: not state.
  const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'bundle_digests') ORDER BY name").all<{ name: string }>();
  const state: Record<string, unknown> = {};
  for (const { name } of tables.results) state[`table:${name}`] = (await env.DB.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).all()).results;
  const objects = await env.ARTIFACTS.list();
  state.r2 = objects.objects.map((o) => `${o.key}:${o.size}`).sort();
  const reads = [
    "/@fz/pkg", "/fz-tool", `${API}/packages/@fz%2fpkg`, `${API}/packages/@fz%2fpkg/1.0.0`, `${API}/packages/@fz%2fpkg/1.1.0/reviews`,
    "/-/package/@fz%2fpkg/dist-tags", "/-/v1/search?text=fz", "/-/v1/search?text=pkg&size=250", WELL_KNOWN,
  ];
  for (const path of reads) {
    const res = await SELF.fetch(`${ORIGIN}${path}`);
    let text = await res.text();
    // The identity document is signed afresh on every request: compare it without issuedAt.
    if (path === WELL_KNOWN && res.status === 200) {
      const envelope = JSON.parse(text) as { payload: string };
      const { issuedAt: _, ...document } = JSON.parse(atob(envelope.payload)) as Record<string, unknown>;
      text = JSON.stringify(document);
    }
    // Search answers carry the time of the answer.
    state[`GET ${path}`] = `${res.status} ${text.replace(/"time":"[^"]*"}$/, "}")}`;
  }
  for (const path of ["/namespaces", "/tokens", "/namespaces/@fz/keys", "/namespaces/@other/keys"]) {
    const res = await SELF.fetch(`${ORIGIN}${API}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    state[`admin ${path}`] = `${res.status} ${await res.text()}`;
  }
  return state;
}

// ---------------------------------------------------------------------------------------------


/**
 * SELF.fetch slows down with every request in this pool (vitest-pool-workers 0.15: ~5 ms per
 * request at first, ~100 ms after 500), so only the first VIA_SELF requests take that path;
 * the rest call the same Worker entry (src/worker/index.ts, with the test's bindings and an
 * execution context) directly, which stays at well under 1 ms per request.
 */
async function dispatch(req: FuzzRequest, viaSelf: boolean): Promise<Response> {
  const init = { method: req.method, headers: req.headers, body: req.body as BodyInit | undefined };
  if (viaSelf) return SELF.fetch(`${ORIGIN}${req.path}`, init);
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${req.path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const statuses = new Map<number, number>();

async function send(req: FuzzRequest, viaSelf: boolean): Promise<Failure | null> {
  let res: Response;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)));
    res = await Promise.race([dispatch(req, viaSelf), hang]);
  } catch (err) {
    return { request: describeRequest(req), status: 0, problem: `fetch threw: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  const text = res.status >= 400 ? await res.text() : "";
  if (res.status < 400) await res.body?.cancel(); // not read: tarballs are bytes
  return judgeResponse(req, res.status, res.headers.get("content-type") ?? "", text);
}

describe("fuzz: random requests across every route", () => {
  it(`${FUZZ_REQUESTS} seeded requests: no 5xx, JSON 4xx, no state change`, async () => {
    const before = await snapshot();
    const r = prng(SEED);
    const tokens = { admin: ADMIN_TOKEN, publish: publishToken, other: otherToken, tool: toolToken, read: readToken };
    const requests = Array.from({ length: FUZZ_REQUESTS }, () => makeRequest(r, tokens));
    const failures: Failure[] = [];
    const started = Date.now();
    for (let i = 0; i < requests.length; i += PARALLEL) {
      const batch = requests.slice(i, i + PARALLEL);
      const results = await Promise.all(batch.map((q, j) => send(q, i + j < VIA_SELF)));
      for (const f of results) if (f) failures.push(f);
    }
    const elapsed = Date.now() - started;
    const after = await snapshot();

    if (failures.length) console.log(`fuzz failures (${failures.length}):\n${[...new Map(failures.map((f) => [`${f.status} ${f.problem.slice(0, 80)} ${f.request.split(" [")[0]}`, f])).values()].slice(0, 40).map((f) => `  ${f.status} ${f.problem}\n    ${f.request}`).join("\n")}`);
    console.log(`fuzz: ${requests.length} requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);
    expect(failures).toEqual([]);
    expect(after).toEqual(before);

    // Still healthy: normal reads answer as before.
    expect((await call("GET", "/-/ping")).status).toBe(200);
    const packument = (await (await call("GET", "/@fz%2fpkg")).json()) as { "dist-tags": Record<string, string>; versions: Record<string, unknown> };
    expect(packument["dist-tags"]).toEqual({ latest: "1.1.0", next: "2.0.0-rc.1" });
    expect(Object.keys(packument.versions)).toEqual(["1.0.0", "1.1.0", "2.0.0-rc.1"]);
    const tarball = await SELF.fetch(`${ORIGIN}/@fz/pkg/-/pkg-1.0.0.tgz`);
    expect(tarball.status).toBe(200);
    expect((await tarball.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect((await call("GET", `${API}/packages/@fz%2fpkg/1.0.0`)).status).toBe(200);
    expect(fixtureKeyid).toMatch(/^SHA256:/);
  }, 60_000);
});
