/**
 * `countersign monitor <namespace>` against a fake log server (test/helpers/fake-log.ts), run
 * in-process as main.ts runs it (parse, then run): it lists exactly the namespace's publications,
 * resumes where it stopped, proves the entries are the signed tree (a tampered entry bundle is a
 * root mismatch, nothing listed), refuses a split view, reports an outage as exit 3, and follows
 * the CLI's conventions (usage errors exit 2 with a did-you-mean, --json output shape).
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import "../../scripts/cli/native-ed25519.js";
import { fromBase64, gapEntry, signRegistryStatement, toBase64, utf8, type Signer } from "../../src/core/index.js";
import { parse } from "../../scripts/cli/command.js";
import { monitor, type MonitorReport } from "../../scripts/cli/commands/monitor.js";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import { LOG_STATE_DIR_ENV } from "../../scripts/cli/log/store.js";
import { LogTree, publisherKey, registryKey, startFakeLog, type FakeLogServer } from "../helpers/fake-log.js";

let server: FakeLogServer;
let registry: Signer;
let publisher: Signer;
let project: string;

beforeAll(async () => {
  server = await startFakeLog();
  registry = await registryKey();
  publisher = await publisherKey();
});
afterAll(() => server.close());
beforeEach(() => {
  process.env[LOG_STATE_DIR_ENV] = mkdtempSync(join(tmpdir(), "cs-monitor-state-"));
  project = mkdtempSync(join(tmpdir(), "cs-monitor-project-"));
  writeFileSync(
    join(project, "countersign.json"),
    JSON.stringify({ version: 1, registries: { team: { url: server.url, fingerprints: [registry.keyid] } }, namespaces: { "@acme": "team", "@other": "team", "@*": "reject", "*": "allow" } }),
  );
});

/** Runs `countersign monitor ARGS --dir <project>`: its exit code and stdout, or the CliError it throws. */
async function run(args: string[]): Promise<{ code: number; stdout: string; error?: CliError }> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    const { values, positionals } = parse(monitor, [...args, "--dir", project]);
    const code = await monitor.run(values, positionals);
    return { code, stdout: out.join("") };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { code: err.exitCode, stdout: out.join(""), error: err };
  } finally {
    spy.mockRestore();
  }
}
const runJson = async (args: string[]) => {
  const result = await run([...args, "--json"]);
  if (result.code !== 0) throw new Error(`monitor failed (${result.code}): ${result.error?.message}`);
  return JSON.parse(result.stdout) as MonitorReport;
};

/** genesis, then @acme and @other versions interleaved with gap entries. */
async function mixedTree(): Promise<LogTree> {
  const t = new LogTree(server.url, registry);
  await t.genesis();
  await t.publish("@acme/a", "1.0.0", publisher);
  await t.publish("@other/x", "1.0.0", publisher);
  await t.append(gapEntry(t.size));
  await t.publish("@acme/b", "2.0.0", publisher);
  for (let i = 0; i < 260; i++) await t.append(gapEntry(t.size)); // past the first entry bundle
  await t.publish("@acme/a", "1.1.0", publisher);
  return t;
}

describe("monitor", () => {
  it("lists exactly the namespace's publications, verified against the checkpoint (--json shape)", async () => {
    const t = await mixedTree();
    await server.serve(t);
    const report = await runJson(["@acme"]);
    expect(Object.keys(report).sort()).toEqual(["checkpoint", "entries", "from", "metadata", "namespace", "origin", "publications", "registry", "statements", "to"]);
    expect(report.registry).toBe(server.url);
    expect(report.checkpoint).toEqual({ size: t.size, root: toBase64(await t.root()), cosignatures: 0 });
    expect(report.from).toBe(0);
    expect(report.to).toBe(t.size);
    expect(report.publications.map((p) => [p.index, `${p.name}@${p.version}`])).toEqual([
      [1, "@acme/a@1.0.0"],
      [4, "@acme/b@2.0.0"],
      [t.size - 1, "@acme/a@1.1.0"],
    ]);
    const first = report.publications[0]!;
    expect(first.publisher).toBe(publisher.keyid);
    expect(first.registryKey).toBe(registry.keyid);
    expect(first.sha512).toMatch(/^[0-9a-f]{128}$/);
    expect(first.publishedAt).toBe("2026-11-24T12:00:00.000Z");
  });

  it("lists the namespace's registry statements (claim, enrolment, revocation) in log order beside its publications", async () => {
    const t = new LogTree(server.url, registry);
    await t.genesis();
    const statement = async (claim: Parameters<typeof signRegistryStatement>[0]) =>
      t.append(fromBase64((await signRegistryStatement(claim, { origin: server.url, sequence: t.size, at: "2026-11-24T12:00:00.000Z" }, registry)).payload)!);
    await statement({ kind: "namespace_claimed", namespace: "@acme" });
    await statement({ kind: "key_enrolled", namespace: "@acme", key: { keyid: publisher.keyid, publicKey: toBase64(publisher.publicKey), label: "ci" } });
    await statement({ kind: "key_enrolled", namespace: "@other", key: { keyid: publisher.keyid, publicKey: toBase64(publisher.publicKey), label: "" } });
    await t.publish("@acme/a", "1.0.0", publisher);
    await statement({ kind: "key_revoked", namespace: "@acme", keyid: publisher.keyid, since: 4 });
    await server.serve(t);
    const report = await runJson(["@acme", "--from", "0"]);
    expect(report.statements).toEqual([
      { index: 1, kind: "namespace_claimed", at: "2026-11-24T12:00:00.000Z" },
      { index: 2, kind: "key_enrolled", at: "2026-11-24T12:00:00.000Z", keyid: publisher.keyid, label: "ci" },
      { index: 5, kind: "key_revoked", at: "2026-11-24T12:00:00.000Z", keyid: publisher.keyid, since: 4 },
    ]);
    expect(report.publications.map((p) => p.index)).toEqual([4]);
    const human = await run(["@acme", "--from", "0"]);
    const lines = human.stdout.split("\n");
    expect(lines.findIndex((l) => l.includes("key enrolled"))).toBeLessThan(lines.findIndex((l) => l.includes("@acme/a@1.0.0")));
    expect(lines.findIndex((l) => l.includes("@acme/a@1.0.0"))).toBeLessThan(lines.findIndex((l) => l.includes("key revoked")));
    expect(human.stdout).toContain("1 publication and 3 key events");
  });

  it("human output: one line per publication and a summary", async () => {
    const t = await mixedTree();
    await server.serve(t);
    const { code, stdout } = await run(["@other"]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ {2}#2 {2}@other\/x@1\.0\.0 {2}2026-11-24T12:00:00\.000Z {2}publisher SHA256:\S+ {2}sha512 [0-9a-f]{128}$/);
    expect(lines[1]).toMatch(new RegExp(`^monitor: @other in .*: 1 publication in entries 0\\.\\.${t.size - 1} \\(${t.size} read, verified against the checkpoint of size ${t.size}`));
  });

  it("resumes from where it stopped; --from reads again from an index", async () => {
    const t = await mixedTree();
    await server.serve(t);
    const first = await runJson(["@acme"]);
    expect(first.publications).toHaveLength(3);
    await t.publish("@acme/c", "1.0.0", publisher);
    await t.publish("@other/y", "1.0.0", publisher);
    await server.serve(t);
    const second = await runJson(["@acme"]);
    expect(second.from).toBe(first.to);
    expect(second.publications.map((p) => p.name)).toEqual(["@acme/c"]);
    const third = await runJson(["@acme"]);
    expect(third).toMatchObject({ from: t.size, to: t.size, entries: 0, publications: [] });
    const again = await runJson(["@acme", "--from", "4"]);
    expect(again.from).toBe(4);
    expect(again.publications.map((p) => `${p.name}@${p.version}`)).toEqual(["@acme/b@2.0.0", "@acme/a@1.1.0", "@acme/c@1.0.0"]);
  });

  it("a tampered entry bundle (an entry changed): the root does not match, nothing listed, exit 1", async () => {
    const t = await mixedTree();
    await server.serve(t);
    server.tamper = (path, body) => (path.startsWith("tile/entries/000") ? Buffer.from(Buffer.from(body).toString("latin1").replace("@acme/b", "@acme/z"), "latin1") : body);
    try {
      const result = await run(["@acme", "--json"]);
      expect(result.code).toBe(EXIT.rejected);
      expect(result.stdout).toBe("");
      expect(result.error?.message).toMatch(/not the tree its checkpoint signs/);
      expect(result.error?.detail).toMatchObject({ layer: "log", code: "bad_tiles" });
    } finally {
      server.tamper = undefined;
    }
    // The position did not advance: a clean run still starts at 0.
    expect((await runJson(["@acme"])).from).toBe(0);
  });

  it("an entry that is not a countersign entry is an error, never skipped", async () => {
    const t = await mixedTree();
    await t.append(utf8("not json"));
    await server.serve(t);
    const result = await run(["@acme"]);
    expect(result.code).toBe(EXIT.rejected);
    expect(result.error?.message).toMatch(/not a countersign entry: log entry \d+ is not UTF-8 JSON/);
  });

  it("a fork after a stored checkpoint: split view, exit 1", async () => {
    const t = await mixedTree();
    await server.serve(t);
    await runJson(["@acme"]);
    const fork = new LogTree(server.url, registry);
    for (const entry of t.entries.slice(0, 3)) await fork.append(entry);
    await fork.publish("@acme/evil", "1.0.0", publisher);
    while (fork.size < t.size + 5) await fork.append(gapEntry(fork.size));
    await server.serve(fork);
    const result = await run(["@acme"]);
    expect(result.code).toBe(EXIT.rejected);
    expect(result.error?.message).toMatch(/SPLIT VIEW/);
    expect(result.error?.detail).toMatchObject({ layer: "log", code: "split_view" });
  });

  it("a log that is down: exit 3", async () => {
    const t = await mixedTree();
    await server.serve(t);
    server.down = true;
    try {
      const result = await run(["@acme"]);
      expect(result.code).toBe(EXIT.unavailable);
      expect(result.error?.message).toMatch(/could not be read.*HTTP 503/);
    } finally {
      server.down = false;
    }
  });

  it("usage: a namespace not pinned to a registry (did you mean), a bad --from, a --registry whose key is not pinned", async () => {
    const t = await mixedTree();
    await server.serve(t);
    const unpinned = await run(["@acmee"]);
    expect(unpinned.code).toBe(EXIT.usage);
    expect(unpinned.error?.message).toMatch(/not pinned to a registry.*did you mean @acme/);
    expect((await run(["@acme", "--from", "-1"])).code).toBe(EXIT.usage);
    expect((await run(["@acme", "--from", "x"])).code).toBe(EXIT.usage);
    expect((await run(["@acme", "--from", String(t.size + 1)])).code).toBe(EXIT.usage);
    expect((await run(["not a namespace"])).code).toBe(EXIT.usage);
    expect((await run([])).code).toBe(EXIT.usage);

    const other = await startFakeLog();
    try {
      const elsewhere = new LogTree(other.url, await publisherKey(7));
      await elsewhere.genesis();
      await other.serve(elsewhere);
      const result = await run(["@acme", "--registry", other.url]);
      expect(result.code).toBe(EXIT.rejected);
      expect(result.error?.message).toMatch(/identity document is signed by .*, expected/);
    } finally {
      await other.close();
    }
  });
});
