/**
 * The request fuzzer (test/helpers/fuzz-requests.ts) over real HTTP against `npm start`'s server,
 * so the layers in front of the Worker are in the path too: 10,000 seeded requests over every
 * route family, 16 at a time. Then hostile HTTP framing on raw sockets, and an upload refused
 * early while the client keeps sending. Invariants: no 5xx and every 4xx a documented JSON error,
 * no state change visible to any reader or admin, and the server still answering at once.
 */

import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bufferSource } from "../../src/core/index.js";
import { API, describeRequest, judgeResponse, makeRequest, NAME, prng, WELL_KNOWN, type Failure, type FuzzRequest, type FuzzTokens } from "../helpers/fuzz-requests.js";
import { startLocalServer, type LocalServer } from "../helpers/local-server.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";

const SEED = 0x5e12_7e57;
const REQUESTS = 10_000;
const PARALLEL = 16;
const REQUEST_TIMEOUT_MS = 10_000;

let server: LocalServer;
let tokens: FuzzTokens;

async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}${API}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  expect(res.status, `admin ${method} ${path}`).toBeLessThan(300);
  return (await res.json()) as Record<string, unknown>;
}

async function enrol(namespace: string, publisher: Publisher): Promise<string> {
  await admin("POST", "/namespaces", { namespace });
  await admin("POST", `/namespaces/${encodeURIComponent(namespace)}/keys`, { publicKey: publisher.publicKey });
  return (await admin("POST", "/tokens", { scope: "publish", namespaces: [namespace] })).token as string;
}

async function publish(publisher: Publisher, name: string, version: string, token: string, tag?: string): Promise<void> {
  const bytes = await npmTarball({ name, version, description: `fuzz fixture ${version}`, keywords: ["fuzz"], main: "index.js" });
  const res = await fetch(`${server.url}${API}/packages/${encodeURIComponent(name)}/${version}${tag ? `?tag=${tag}` : ""}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
    body: bufferSource(await uploadBody(await signedParts(publisher, name, version, bytes))),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  server = await startLocalServer(mkdtempSync(join(tmpdir(), "countersign-fuzz-")));
  const publisher = await newPublisher();
  const publishToken = await enrol("@fz", publisher);
  const other = await enrol("@other", await newPublisher());
  const tool = await enrol("fz-tool", publisher);
  const read = (await admin("POST", "/tokens", { scope: "read" })).token as string;
  tokens = { admin: server.adminToken, publish: publishToken, other, tool, read };
  await publish(publisher, NAME, "1.0.0", publishToken);
  await publish(publisher, NAME, "1.1.0", publishToken);
  await publish(publisher, NAME, "2.0.0-rc.1", publishToken, "next");
  await publish(publisher, "fz-tool", "0.1.0", tool);
});

afterAll(async () => {
  await server?.stop();
});

/** Everything a reader or the admin can see, with the parts that legitimately vary removed. */
/**
 * Signed package metadata (PROTOCOL §19) is re-issued every six hours with the same contents: a
 * run across a window boundary must not look like a change, so it is compared by its statement
 * without `issuedAt` and `expires` (and without the signature over them).
 */
function withoutMetadataWindow(text: string): string {
  if (!text.includes('"metadata":')) return text;
  const doc = JSON.parse(text) as { metadata?: { payload: string } | null; countersign?: { metadata?: { payload: string } } };
  const contents = (envelope: { payload: string }) => {
    const { issuedAt: _issued, expires: _expires, ...statement } = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as Record<string, unknown>;
    return statement;
  };
  if (doc.metadata) (doc as Record<string, unknown>).metadata = contents(doc.metadata);
  if (doc.countersign?.metadata) (doc.countersign as Record<string, unknown>).metadata = contents(doc.countersign.metadata);
  return JSON.stringify(doc);
}

async function visibleState(): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  const reads: [string, Record<string, string>?][] = [
    ["/@fz%2fpkg"],
    ["/@fz%2fpkg", { accept: "application/vnd.npm.install-v1+json" }],
    ["/fz-tool"],
    [`${API}/packages/@fz%2fpkg`],
    [`${API}/packages/@fz%2fpkg/1.0.0`],
    [`${API}/packages/@fz%2fpkg/1.1.0/reviews`],
    ["/-/package/@fz%2fpkg/dist-tags"],
    ["/-/v1/search?text=fz"],
    [WELL_KNOWN],
  ];
  for (const [path, headers] of reads) {
    const res = await fetch(`${server.url}${path}`, { headers });
    let text = await res.text();
    if (path === WELL_KNOWN && res.status === 200) {
      const { issuedAt: _, ...document } = JSON.parse(Buffer.from((JSON.parse(text) as { payload: string }).payload, "base64").toString("utf8")) as Record<string, unknown>;
      text = JSON.stringify(document);
    }
    state[`GET ${path} ${headers?.accept ?? ""}`] = `${res.status} ${withoutMetadataWindow(text).replace(/"time":"[^"]*"}$/, "}")}`;
  }
  for (const file of ["@fz/pkg/-/pkg-1.0.0.tgz", "@fz/pkg/-/pkg-2.0.0-rc.1.tgz", "fz-tool/-/fz-tool-0.1.0.tgz"]) {
    const res = await fetch(`${server.url}/${file}`);
    state[`GET /${file}`] = `${res.status} ${createHash("sha256").update(new Uint8Array(await res.arrayBuffer())).digest("hex")}`;
  }
  for (const path of ["/namespaces", "/tokens", "/namespaces/@fz/keys", "/namespaces/@other/keys"]) state[`admin ${path}`] = JSON.stringify(await admin("GET", path));
  return state;
}

async function send(req: FuzzRequest, statuses: Map<number, number>): Promise<Failure | null> {
  const headers = { ...req.headers };
  // Headers undici will not send as given (it owns framing): dropped, not the request.
  for (const owned of ["content-length", "transfer-encoding", "host", "expect"]) delete headers[owned];
  try {
    const res = await fetch(`${server.url}${req.path}`, { method: req.method, headers, body: req.body as BodyInit | undefined, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const text = res.status >= 400 ? await res.text() : "";
    if (res.status < 400) await res.body?.cancel();
    return judgeResponse(req, res.status, res.headers.get("content-type") ?? "", text);
  } catch (err) {
    // A URL the client itself refuses to send (e.g. a raw `%` sequence it rejects) is not a server failure.
    if (err instanceof TypeError && /Invalid URL|invalid/i.test(String(err.message)) && !String(err.cause ?? "").includes("ECONN")) return null;
    return { request: describeRequest(req), status: 0, problem: `fetch failed: ${err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err)}` };
  }
}

/** Writes raw bytes to the server and resolves with whatever comes back before it closes (or 5 s). */
function raw(data: string | Buffer, options: { closeAfterWrite?: boolean } = {}): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), "127.0.0.1");
    let out = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, 5_000);
    socket.on("data", (d) => {
      out += d.toString("latin1");
      if (/\r\n\r\n/.test(out) && /^HTTP\/1\.1 \d{3}/.test(out) && !/content-length: [1-9]/i.test(out.split("\r\n\r\n")[0]!)) done();
      else if (/content-length: (\d+)/i.test(out)) {
        const [head, body = ""] = out.split("\r\n\r\n");
        if (body.length >= Number(/content-length: (\d+)/i.exec(head!)![1])) done();
      }
    });
    socket.on("close", done);
    socket.on("error", done);
    socket.write(data, () => {
      if (options.closeAfterWrite) socket.end();
    });
  });
}

async function pingMs(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const res = await fetch(`${server.url}/-/ping`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[5]!;
}

it(`${REQUESTS} seeded requests over HTTP to npm start: no 5xx, JSON 4xx, no visible state change, still fast`, async () => {
  const before = await visibleState();
  const r = prng(SEED);
  const requests = Array.from({ length: REQUESTS }, () => makeRequest(r, tokens));
  const statuses = new Map<number, number>();
  const failures: Failure[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < requests.length) {
        const failure = await send(requests[next++]!, statuses);
        if (failure) failures.push(failure);
      }
    }),
  );
  const elapsed = Date.now() - started;
  console.log(`server fuzz: ${REQUESTS} requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);
  if (failures.length) console.log(failures.slice(0, 30).map((f) => `  ${f.status} ${f.problem}\n    ${f.request}`).join("\n"));
  expect(failures).toEqual([]);
  expect(await visibleState()).toEqual(before);
  expect(server.child.exitCode).toBeNull();
  expect(await pingMs()).toBeLessThan(100);
}, 300_000);

it("hostile HTTP framing is answered or closed by workerd, and the server keeps answering", async () => {
  const before = await visibleState();
  const answers = await Promise.all([
    raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"),
    raw("BLAH\r\n\r\n"),
    raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(200_000)}\r\nConnection: close\r\n\r\n`),
    raw("PUT /-/countersign/v1/packages/@fz%2fpkg/3.0.0 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\npartial", { closeAfterWrite: true }),
    raw(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])), // a TLS ClientHello's start
  ]);
  // Whatever the framing layer says, it never claims success.
  for (const answer of answers) expect(answer).not.toMatch(/^HTTP\/1\.1 2\d\d/);
  expect(await pingMs()).toBeLessThan(100);
  expect(await visibleState()).toEqual(before);
});

it("a publish refused early (bogus token, body still streaming) leaves the next request answered at once", async () => {
  for (let i = 0; i < 5; i++) {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), "127.0.0.1");
    socket.on("error", () => undefined); // reset after the refusal: expected, the body was 8 MiB
    const refused = new Promise<string>((resolve) => {
      let out = "";
      socket.on("data", (d) => {
        out += d.toString("latin1");
        if (out.includes("\r\n\r\n")) resolve(out);
      });
      socket.on("close", () => resolve(out));
    });
    socket.write(`PUT ${API}/packages/@fz%2fpkg/9.${i}.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cs_bogus\r\nContent-Type: application/x-tar\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`);
    socket.write(Buffer.alloc(64 * 1024, 1));
    const answer = await refused;
    expect(answer, answer).toMatch(/^HTTP\/1\.1 4\d\d .*\r\n[^]*content-type: application\/json/i);
    socket.destroy();
    const started = performance.now();
    const res = await fetch(`${server.url}/@fz%2fpkg`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(performance.now() - started).toBeLessThan(1_000);
  }
});

it("Miniflare's development headers (MF-*) reach the Worker as plain headers: no URL rewrite, no route override, no binding proxy", async () => {
  const before = await visibleState();
  const ping = (headers: Record<string, string>, path = "/-/ping") => fetch(`${server.url}${path}`, { headers, signal: AbortSignal.timeout(5_000) });
  // Miniflare's entry worker would let these pick another path (here: the admin token list),
  // another route, a forged request.cf (a parse error there is a plain-text 500), or its proxy.
  const rewritten = await ping({ "MF-Original-URL": `${server.url}${API}/admin/tokens` });
  expect(rewritten.status).toBe(200);
  expect(await rewritten.text()).toBe("{}");
  for (const headers of [{ "MF-CF-Blob": "{not json" }, { "MF-Route-Override": "elsewhere" }, { "MF-Disable-Pretty-Error": "1" }] as Record<string, string>[]) {
    const res = await ping(headers);
    expect(res.status, JSON.stringify(headers)).toBe(200);
    expect(await res.text()).toBe("{}");
  }
  const proxy = await ping({ "MF-Op": "GET", "MF-Proxy-Shared-Secret": "guess" }, "/cdn-cgi/platform-proxy");
  expect(proxy.status).toBe(404);
  expect(proxy.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await visibleState()).toEqual(before);
});
