/**
 * @module
 * A local stand-in for the public Sigstore TUF repository, for `npm audit signatures` in tests
 * without internet.
 *
 * Before it asks a registry for `/-/npm/v1/keys`, npm (lib/utils/verify-signatures.js) refreshes
 * the Sigstore TUF repository at https://tuf-repo-cdn.sigstore.dev (@sigstore/tuf, a hard-coded
 * mirror) and looks for a target `<registry host><path>/keys.json`; only a registry with no such
 * target (TUF_FIND_TARGET_ERROR: every registry but npm's own) falls back to its keys endpoint.
 * If the refresh fails (no network), the command fails before auditing anything.
 *
 * This stand-in gives npm exactly what the real repository gives for a private registry: valid,
 * signed TUF metadata with no target for it. It is reached the way a corporate network reaches
 * the internet, through an HTTPS proxy (`HTTPS_PROXY`, honoured by npm's fetch agent) that
 * terminates TLS for tuf-repo-cdn.sigstore.dev only, with a certificate npm trusts through
 * `NODE_EXTRA_CA_CERTS`; every other host is refused and recorded. Its metadata is signed by a
 * test-only TUF root, which `seed` writes into the npm cache's TUF directory (`<cache>/_tuf/…`,
 * npm's `tufCache`), where @sigstore/tuf keeps the root it trusts once it has one. npm itself is
 * not modified; nothing outside the test's own directories is.
 */

import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";

export const TUF_HOST = "tuf-repo-cdn.sigstore.dev";

export interface TufStandin {
  /** Environment for npm: the proxy, the trusted certificate, and the registry's host exempted. */
  env: Record<string, string>;
  /** Paths asked of the stand-in (`/timestamp.json`, …), and CONNECTs refused (`refused <host>`). */
  requests: string[];
  /** Installs the stand-in's TUF root in an npm cache directory (npm's `--cache`). */
  seed(npmCache: string): void;
  stop(): Promise<void>;
}

/** Canonical JSON (OLPC, as @tufjs/canonical-json): sorted keys, no whitespace; enough for these documents. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export async function startTufStandin(dir: string): Promise<TufStandin> {
  mkdirSync(dir, { recursive: true });
  // The TLS certificate for the repository's host (self-signed: it is its own trust anchor).
  const certPath = join(dir, "tuf-cert.pem");
  const keyPath = join(dir, "tuf-key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", `/CN=${TUF_HOST}`, "-addext", `subjectAltName=DNS:${TUF_HOST}`], { stdio: "ignore" });

  // One Ed25519 key for every role, threshold 1.
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicHex = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url").toString("hex");
  const key = { keytype: "ed25519", scheme: "ed25519", keyval: { public: publicHex } };
  const keyid = createHash("sha256").update(canonical(key)).digest("hex");
  const expires = new Date(Date.now() + 7 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const common = { spec_version: "1.0.31", version: 1, expires };
  const signed = (doc: Record<string, unknown>) => JSON.stringify({ signed: doc, signatures: [{ keyid, sig: sign(null, Buffer.from(canonical(doc)), privateKey).toString("hex") }] });
  const role = { keyids: [keyid], threshold: 1 };
  const root = signed({ _type: "root", ...common, consistent_snapshot: false, keys: { [keyid]: key }, roles: { root: role, snapshot: role, targets: role, timestamp: role } });
  const files: Record<string, string> = {
    "/timestamp.json": signed({ _type: "timestamp", ...common, meta: { "snapshot.json": { version: 1 } } }),
    "/snapshot.json": signed({ _type: "snapshot", ...common, meta: { "targets.json": { version: 1 } } }),
    // No targets: like the real repository for any registry but npm's own.
    "/targets.json": signed({ _type: "targets", ...common, targets: {} }),
  };

  const requests: string[] = [];
  const repository = createHttpsServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (req, res) => {
    const path = new URL(req.url ?? "/", `https://${TUF_HOST}`).pathname;
    requests.push(path);
    const body = files[path];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" }).end(body ?? "");
  });
  const proxy: Server = createHttpServer((req, res) => {
    requests.push(`refused ${req.url}`);
    res.writeHead(403).end();
  });
  const sockets = new Set<Socket>();
  proxy.on("connection", (socket: Socket) => (sockets.add(socket), socket.on("close", () => sockets.delete(socket))));
  proxy.on("connect", (req, socket: Socket) => {
    if (req.url !== `${TUF_HOST}:443`) {
      requests.push(`refused ${req.url}`);
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    repository.emit("connection", socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  return {
    env: {
      HTTPS_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
      NODE_EXTRA_CA_CERTS: certPath,
    },
    requests,
    seed(npmCache) {
      const tuf = join(npmCache, "_tuf", encodeURIComponent(TUF_HOST));
      mkdirSync(join(tuf, "targets"), { recursive: true });
      writeFileSync(join(tuf, "root.json"), root);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
