/**
 * @module
 * The request fuzzer's building blocks, shared by the Worker suite (test/worker/fuzz.test.ts,
 * through the Worker entry) and the server suite (test/e2e/fuzz-server.test.ts, over HTTP to
 * `npm start`): a seeded PRNG, hostile names, versions, tags, bodies and headers over every
 * route family, and the invariants a response must keep. Fixture names: `@fz/pkg` (1.0.0,
 * 1.1.0, 2.0.0-rc.1 on `next`), `fz-tool` (0.1.0), namespaces `@fz`, `@other`, `fz-tool`.
 * Requests that could legitimately change state are never generated: privileged tokens only
 * ever travel with bodies that cannot be valid.
 */

/** The fixture's tokens: privileged ones (admin, publish, tool) never carry a valid body. */
export interface FuzzTokens {
  admin: string;
  /** May publish in @fz. */
  publish: string;
  /** A publish token for @other: may not touch @fz. */
  other: string;
  /** May publish fz-tool. */
  tool: string;
  read: string;
}

export const NAME = "@fz/pkg";

/** mulberry32: small, fast, good enough for picking cases. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Rng = ReturnType<typeof prng>;

const NAMES = [
  "@fz/pkg", "@fz%2fpkg", "@fz%2Fpkg", "%40fz%2fpkg", "%40fz/pkg", "fz-tool", "FZ-TOOL", "@FZ/pkg", "@fz/PKG",
  "@fz%252fpkg", "@fz%2f", "@fz%2f%2f", "@%2fpkg", "@", "@/", "@fz", "@fz/", "%40", "%2f", "%2F", "%",
  "%zz", "%ff", "%c3", "%c3%28", "%e2%82", "%00", "a%00b", "%0d%0aSet-Cookie:x=1", "..", "%2e%2e", "%2e", ".", ".hidden",
  "_private", "-dash", "node_modules", "favicon.ico", "pkg%20name", "pkg+name", "pkg name", "ünïcödé", "%F0%9F%92%A9",
  "😀", "a".repeat(214), "b".repeat(215), "c".repeat(3000), "@fz/pkg%00", "@fz/pkg%2e%2e", "@fz//pkg", "@fz/pkg/extra",
  "@fz%2fpkg%2fextra", "@fz%2f..%2f..%2fadmin", "..%2f..%2fetc%2fpasswd", "-", "~", "~user", "%7e", "con", "null",
  "undefined", "__proto__", "constructor", "toString", "@__proto__/x", "@fz/__proto__", "0", "1e3", "-1", "[]", "{}",
  "'", "\"", "%22", "%27", "<script>", "%3Cscript%3E", "\\", "%5c", "@fz%5cpkg", "a:b", "a;b", "a,b", "a=b", "a&b", "a?b", "a#b",
] as const;

const GOOD_NAMES = ["@fz/pkg", "@fz%2fpkg", "@fz%2Fpkg", "fz-tool", "@other/x", "@other%2fx", "@ghost/y", "plain"] as const;

const VERSIONS = [
  "1.0.0", "1.1.0", "2.0.0-rc.1", "0.1.0", "latest", "next", "9.9.9", "1.0", "1", "v1.0.0", "=1.0.0", "^1.0.0", "~1", "*", ">=1",
  "1.0.0-", "1.0.0+build", "01.0.0", "1.0.0-01", "99999999999999999999.0.0", "", "%00", "%zz", "..", "%2e%2e", "1.0.0%2f..",
  "1.0.0%00", "__proto__", "constructor", "hasOwnProperty", "x".repeat(300), "1.0.0-" + "a".repeat(300), "😀", "%F0%9F%92%A9",
  "-1", "NaN", "Infinity", "1e3", "artifact", "reviews", "dist-tags", "-",
] as const;

const TAGS = ["latest", "next", "beta", "", "__proto__", "constructor", "1.0.0", "v1", "%00", "%zz", "x".repeat(300), "LATEST", "a b", "a%20b", "😀", "-", ".."] as const;

const FILES = [
  "pkg-1.0.0.tgz", "pkg-1.1.0.tgz", "pkg-2.0.0-rc.1.tgz", "fz-tool-0.1.0.tgz", "pkg-9.9.9.tgz", "pkg-.tgz", "pkg-1.0.0.tar.gz",
  ".tgz", "pkg-1.0.0", "pkg-1.0.0.tgz%00", "pkg-__proto__.tgz", "%zz.tgz", "..%2f..%2fpkg-1.0.0.tgz", "pkg-1.0.0.tgz.tgz",
  "PKG-1.0.0.tgz", "pkg-latest.tgz", "x".repeat(400) + ".tgz",
] as const;

const NAMESPACES = ["@fz", "@other", "fz-tool", "@ghost", "@", "@FZ", "%40fz", "@fz%2fx", "", "%zz", "%00", "__proto__", "x".repeat(300), "@fz/pkg", "😀"] as const;

const QUERY_PARTS = [
  "text=fz", "text=", "text", "text=%", "text=%zz", "text=%ff%fe", "text=%00", "text=" + "q".repeat(256), "text=" + "q".repeat(257),
  "text=%25%25%25", "text=keywords:fuzz", "text=author:x", "text=*", "text=%22%27%3B--", "text=_%25", "text=😀", "text=%F0%9F%92%A9",
  "size=1", "size=0", "size=-1", "size=250", "size=251", "size=1e2", "size=abc", "size=", "size=99999999999999999999", "size=%00",
  "size=1.5", "size= 1", "size=0x10", "from=0", "from=-1", "from=100000", "from=100001", "from=NaN", "from=", "from=1e5",
  "quality=1", "popularity=NaN", "size=1&size=2", "text=a&text=b", "=", "&&&", "a=%", "%=%", "write=true", "write", "__proto__=1",
] as const;

const ACCEPTS = [
  undefined, "application/json", "application/vnd.npm.install-v1+json", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
  "*/*", "text/html", "", "garbage;;;=", "application/vnd.npm.install-v1+jsonx", "x".repeat(4000), "image/*;q=0",
] as const;

const CONTENT_TYPES = [
  undefined, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/jsonx", "application/json-patch+json",
  "text/plain", "application/x-tar", "application/octet-stream", "multipart/form-data; boundary=x", "", ";;;", "application/x-www-form-urlencoded",
] as const;

const CONTENT_LENGTHS = ["0", "-1", "abc", "1e9", "99999999999999999999999", "18446744073709551616", "9007199254740993", " 5", "0x10", "1.5", "NaN", "Infinity", "70000", "300000", "1073741824"] as const;

const IF_NONE_MATCH = ["*", '""', 'W/"x"', ",,,,", '"sha512-', "x".repeat(2000), 'W/', '"a", W/"b", *'] as const;

function randomAscii(r: Rng, max: number): string {
  const n = r.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + r.int(0x5f));
  return s;
}

function randomBytes(r: Rng, max: number): Uint8Array {
  const out = new Uint8Array(r.int(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = r.int(256);
  return out;
}

function randomJson(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1]);
    case 3: return r.pick(["", "1.0.0", "@fz/pkg@1.0.0", "x".repeat(r.int(500)), "\u0000", "\ud800", "😀", "__proto__"]);
    case 4: return randomAscii(r, 40);
    case 5: return Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(["packages", "namespace", "scope", "namespaces", "publicKey", "label", "name", "versions", "_attachments", "payload", "payloadType", "signatures", "__proto__", "constructor", randomAscii(r, 8)])] = randomJson(r, depth + 1);
      return o;
    }
  }
}

/**
 * A body that can never be a valid request anywhere (so it may travel with privileged tokens):
 * not JSON, not UTF-8, or JSON that no schema accepts (extra keys, wrong types, invalid values).
 */
function invalidBody(r: Rng): string | Uint8Array {
  switch (r.int(10)) {
    case 0: return "";
    case 1: return "{";
    case 2: return randomAscii(r, 200);
    case 3: return randomBytes(r, 600);
    case 4: return new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"namespace":"@fzbom"}')]); // BOM: refused
    case 5: return new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]); // invalid UTF-8 in a key
    case 6: return JSON.stringify(r.pick([[], 1, "x", null, true, { namespace: "@BAD" }, { namespace: "@fzx", extra: 1 }, { scope: "admin" }, { scope: "read", namespaces: ["@fz"] }, { scope: "publish" }, { scope: "publish", namespaces: ["@BAD"] }, { publicKey: "not-a-key" }, { publicKey: "AAAA", label: "x".repeat(201) }, { packages: "x" }, { packages: [1] }, { name: "@fz/pkg", versions: [] }, "1.0.0-", { namespace: "@fzx", __proto__: 1 }]));
    case 7: return "[".repeat(5000) + "]".repeat(5000);
    case 8: return '{"a":' + "1".repeat(400) + "e99999}";
    default: return "x".repeat(70_000 + r.int(200_000)); // past the JSON caps
  }
}

/** Any body, for requests without privileged tokens. */
function anyBody(r: Rng): string | Uint8Array | undefined {
  switch (r.int(6)) {
    case 0: return undefined;
    case 1: return invalidBody(r);
    case 2: return JSON.stringify(randomJson(r));
    case 3: return JSON.stringify({ packages: Array.from({ length: r.int(30) }, () => r.pick([`${NAME}@1.0.0`, "@fz/pkg@", "@", "", "@@", "fz-tool@0.1.0", `${r.pick(NAMES)}@${r.pick(VERSIONS)}`, randomAscii(r, 30)])) });
    case 4: return JSON.stringify(r.pick(["1.0.0", "1.1.0", "9.9.9", "latest"]));
    default: return JSON.stringify({ namespace: r.pick(NAMESPACES), scope: r.pick(["read", "publish"]), publicKey: randomAscii(r, 44) });
  }
}

type Auth = "none" | "garbage" | "admin" | "read" | "other" | "publish";

function authHeader(r: Rng, auth: Auth, t: FuzzTokens): string | undefined {
  switch (auth) {
    case "none": return undefined;
    case "admin": return `Bearer ${t.admin}`;
    case "read": return `Bearer ${t.read}`;
    case "other": return `Bearer ${t.other}`;
    case "publish": return `Bearer ${r.chance(0.5) ? t.publish : t.tool}`;
    default: return r.pick(["Bearer", "Bearer ", "bearer x", `Bearer ${"t".repeat(513)}`, `Bearer ${"t".repeat(5000)}`, "Basic Zm9vOmJhcg==", `Bearer ${t.admin}x`, `Bearer ${t.admin.toUpperCase()}`, "Bearer cs_", "Bearer a b", "Token x", "Bearer\tcs_x", `Bearer ${t.read}${t.read}`]);
  }
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** The countersign error shape is required (the npm front door may use either). */
  countersignShape: boolean;
}

export const API = "/-/countersign/v1";
export const WELL_KNOWN = "/.well-known/countersign.json";

function makePath(r: Rng): { path: string; countersign: boolean } {
  // Half the names exist or are well-formed, so requests get past name checks into the handlers.
  const name = () => (r.chance(0.5) ? r.pick(GOOD_NAMES) : r.pick(NAMES));
  const version = () => r.pick(VERSIONS);
  const q = () => (r.chance(0.2) ? `?${Array.from({ length: 1 + r.int(3) }, () => r.pick(QUERY_PARTS)).join("&")}` : "");
  switch (r.int(20)) {
    case 0: case 1: return { path: `/${name()}${q()}`, countersign: false };
    case 2: return { path: `/${name()}/${version()}${q()}`, countersign: false };
    case 3: return { path: `/${name()}/-/${r.pick(FILES)}`, countersign: false };
    case 4: return { path: `/${name()}/-rev/${r.pick(["1-abc", "", "%00", "x".repeat(100)])}`, countersign: false };
    case 5: return { path: `/-/package/${name()}/dist-tags${r.chance(0.6) ? `/${r.pick(TAGS)}` : ""}`, countersign: false };
    case 6: return { path: `/-/v1/search?${Array.from({ length: r.int(4) }, () => r.pick(QUERY_PARTS)).join("&")}`, countersign: false };
    case 7: return { path: r.pick(["/-/ping", "/-/whoami", "/-/ping?write=true", "/-/v1/search", "/-/user/org.couchdb.user:x", "/-/npm/v1/security/advisories/bulk", "/-/v1/login", "/-/all"]), countersign: false };
    case 8: return { path: r.pick(["/.well-known/countersign.json", "/.well-known/countersign.json?x=%", "/.well-known/", "/.well-known/countersign.json/x", "/.WELL-KNOWN/countersign.json"]), countersign: false };
    case 9: case 10: return { path: `${API}/packages/${name()}${q()}`, countersign: true };
    case 11: return { path: `${API}/packages/${name()}/${version()}${q()}`, countersign: true };
    case 12: return { path: `${API}/packages/${name()}/${version()}/${r.pick(["artifact", "reviews", "reviews/x", "artifact/", "x"])}`, countersign: true };
    case 13: case 14: return { path: `${API}/bundles${r.pick(["", "", "/", "?x=1", "/x"])}`, countersign: true };
    case 15: case 16: {
      const sub = r.pick([
        "/namespaces", "/namespaces/", `/namespaces/${encodeURIComponent(r.pick(NAMESPACES))}/keys`,
        `/namespaces/${encodeURIComponent(r.pick(NAMESPACES))}/keys/${r.pick([encodeURIComponent("SHA256:x"), "SHA256:abc", "%zz", "", "x".repeat(200), encodeURIComponent(`SHA256:${"A".repeat(43)}`), "__proto__"])}`,
        "/tokens", "/tokens/", `/tokens/${r.pick(["tok_x", "", "%00", "%zz", "x".repeat(300), "__proto__"])}`, "", "/", "/x", "/namespaces/@fz",
      ]);
      return { path: `${API}/admin${sub}`, countersign: true };
    }
    case 17: return { path: `${API}${r.pick(["", "/", "/x", "/packages", "/packages/", "/bundles/x", "/admin/../packages", "/%2e%2e/admin"])}`, countersign: true };
    default: {
      const segs = Array.from({ length: r.int(5) }, () => r.pick([...NAMES, "-", "-", "v1", "countersign", "admin", "dist-tags", "package", randomAscii(r, 12).replace(/[#?]/g, "")]));
      return { path: `/${segs.join("/")}${q()}`, countersign: false };
    }
  }
}

export function makeRequest(r: Rng, tokens: FuzzTokens): FuzzRequest {
  const { path, countersign } = makePath(r);
  const method = r.pick(["GET", "GET", "GET", "HEAD", "PUT", "PUT", "POST", "POST", "DELETE", "DELETE", "PATCH", "OPTIONS"]);
  const headers: Record<string, string> = {};
  const auth = r.pick<Auth>(["none", "none", "garbage", "admin", "admin", "read", "other", "publish"]);
  const a = authHeader(r, auth, tokens);
  if (a !== undefined) headers.authorization = a;
  const accept = r.pick(ACCEPTS);
  if (accept !== undefined) headers.accept = accept;
  const type = r.chance(0.4) ? "application/json" : r.pick(CONTENT_TYPES);
  if (type !== undefined) headers["content-type"] = type;
  if (r.chance(0.1)) headers["if-none-match"] = r.pick(IF_NONE_MATCH);
  if (r.chance(0.05)) headers[r.pick(["x-forwarded-host", "host", "x-http-method-override", "origin", "cookie", "range", "transfer-encoding", "expect"])] = r.pick(["evil.test", "DELETE", "bytes=0-1", "a=b", "chunked", "100-continue", ""]);
  // Privileged tokens (admin everywhere, the fixture's publish token) never carry a body that could be valid.
  const privileged = auth === "admin" || auth === "publish";
  let body: string | Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD") body = privileged ? (r.chance(0.1) ? undefined : invalidBody(r)) : anyBody(r);
  // A Content-Length header that disagrees with the body: only on requests without a body
  // (with one, the fetch client itself would refuse or rewrite it).
  if (body === undefined && r.chance(0.15)) headers["content-length"] = r.pick(CONTENT_LENGTHS);
  return { method, path, headers, body, countersignShape: countersign };
}

export interface Failure {
  request: string;
  status: number;
  problem: string;
}

export function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? "" : typeof req.body === "string" ? ` body=${JSON.stringify(req.body.slice(0, 120))}${req.body.length > 120 ? `…(${req.body.length})` : ""}` : ` body=<${req.body.length} bytes>`;
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v}`).join("; ");
  return `${req.method} ${req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path} [${headers}]${body}`;
}

/**
 * Whether a response keeps the invariants: no 5xx; every 4xx JSON (application/json) in a
 * documented shape, `{ error: { code, message } }`, or npm's `{ error, code }` on the npm front
 * door; a HEAD without a body. `text` is the body of a 4xx (not read otherwise).
 */
export function judgeResponse(req: FuzzRequest, status: number, contentType: string, text: string): Failure | null {
  const fail = (problem: string): Failure => ({ request: describeRequest(req), status, problem: `${problem}; body=${text.slice(0, 200)}` });
  if (status >= 500) return fail("5xx");
  if (status < 400) return null;
  if (!/^application\/json\b/.test(contentType)) return fail(`4xx content-type ${JSON.stringify(contentType)}`);
  if (req.method === "HEAD") return text === "" ? null : fail("HEAD with a body");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail("4xx body is not JSON");
  }
  const b = body as { error?: unknown; code?: unknown };
  const countersign = typeof b.error === "object" && b.error !== null && typeof (b.error as { code?: unknown }).code === "string" && typeof (b.error as { message?: unknown }).message === "string";
  const npm = typeof b.error === "string" && typeof b.code === "string";
  if (req.countersignShape ? !countersign : !countersign && !npm) return fail("4xx body not in the documented error shape");
  return null;
}
