/**
 * The built client's conventions, run as a user runs it (dist/countersign.mjs, no registry needed):
 * `--version`; exit codes 0/1/2/3 only; `--json` on every failure, usage errors included (one
 * JSON object on stdout, the one-line reason on stderr); "did you mean" for mistyped commands and
 * options; invalid names are usage errors (exit 2, not an internal error); and a host that accepts
 * the connection but never answers fails after the configured timeout, named, with exit 3.
 */

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli, type CliResult } from "../helpers/cli.js";
import { CLI, ROOT } from "../helpers/paths.js";

const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const work = mkdtempSync(join(tmpdir(), "countersign-conventions-"));
const env = { XDG_CONFIG_HOME: join(work, "config"), COUNTERSIGN_REGISTRY: undefined, COUNTERSIGN_TIMEOUT: undefined, COUNTERSIGN_TIMEOUT_MS: undefined };
const cs = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { env: { ...env, ...extra }, cwd: work, timeoutMs: 60_000 });

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The one JSON object a failure prints under --json; stderr is its one-line reason. */
function failure(out: CliResult, exitCode: number): Record<string, unknown> & { error: string } {
  expect(out.code, out.stderr).toBe(exitCode);
  const json = JSON.parse(out.stdout) as Record<string, unknown> & { error: string };
  expect(json.exitCode).toBe(exitCode);
  expect(out.stderr).toBe(`countersign: ${json.error}\n`);
  expect(out.stderr).not.toMatch(/^\s+at /m);
  return json;
}

describe("--version", () => {
  it.each([["--version"], ["-V"]])("%s prints the version", async (flag) => {
    expect(await cs([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("--version --json prints {version}", async () => {
    const out = await cs(["--version", "--json"]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ version });
  });

  it("--help names the version, the global options and the default timeout", async () => {
    const out = await cs(["--help"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`countersign ${version}`);
    expect(out.stdout).toMatch(/--timeout SECONDS +time limit of one network request \(default 30; env COUNTERSIGN_TIMEOUT/);
    expect((await cs(["fetch", "--help"])).stdout).toContain("--timeout SECONDS");
  });
});

describe("usage errors: exit 2, JSON under --json, with a suggestion", () => {
  it("an unknown command suggests the closest one", async () => {
    const human = await cs(["pubish"]);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('unknown command "pubish" (did you mean publish?)');
    const json = failure(await cs(["pubish", "--json"]), 2);
    expect(json.error).toContain("did you mean publish?");
    expect(json.commands).toContain("publish");
  });

  it("an unknown option suggests the closest one of that command", async () => {
    const human = await cs(["verify", "--verbos"]);
    expect(human.code).toBe(2);
    expect(human.stderr.split("\n")[0]).toBe("countersign: verify: unknown option --verbos (did you mean --verbose?)");
    expect(human.stderr).toContain("usage: countersign verify");
    const json = failure(await cs(["fetch", "@acme/a@1.0.0", "--fingerprnt", "SHA256:x", "--json"]), 2);
    expect(json).toMatchObject({ error: "fetch: unknown option --fingerprnt (did you mean --fingerprint?)", command: "fetch" });
    expect(json.usage).toMatch(/^countersign fetch /);
  });

  it("a missing argument, a missing option value, no command at all", async () => {
    expect(failure(await cs(["fetch", "--json"]), 2).error).toBe("fetch takes one <name@version>; none given");
    expect(failure(await cs(["fetch", "@acme/a@1.0.0", "--json", "--fingerprint"]), 2).error).toContain("--fingerprint");
    expect(failure(await cs(["fetch", "@acme/a@1.0.0", "--registry", "http://127.0.0.1:9", "--json"]), 2).error).toContain("--fingerprint is required");
    expect(failure(await cs(["fetch", "@acme/a@1.0.0", "--json"]), 2).error).toContain("no registry given");
    expect(failure(await cs(["--json"]), 2).error).toContain("no command given");
    const extra = failure(await cs(["verify", "unexpected", "--json"]), 2);
    expect(extra.error).toMatch(/^(verify takes no arguments; got "unexpected"|wrong arguments for countersign verify)$/);
    expect(extra.usage).toMatch(/^countersign verify /);
    expect(failure(await cs(["identity", "--json"], { COUNTERSIGN_TIMEOUT: "soon" }), 2).error).toBe("identity takes one registry <url>; none given");
    expect(failure(await cs(["identity", "http://127.0.0.1:9", "--json"], { COUNTERSIGN_TIMEOUT: "soon" }), 2).error).toBe('COUNTERSIGN_TIMEOUT must be a positive number of seconds, got "soon"');
    expect(failure(await cs(["identity", "http://127.0.0.1:9", "--timeout", "0", "--json"]), 2).error).toContain("--timeout must be a positive number");
  });

  it("an upper-case (or otherwise invalid) name is a usage error, never an internal one", async () => {
    await cs(["keygen"]);
    writeFileSync(join(work, "notes.txt"), "notes\n");
    const cases: string[][] = [
      ["fetch", "@Acme/Foo@1.0.0", "--fingerprint", "SHA256:x", "--registry", "http://127.0.0.1:9"],
      ["inspect", "@Acme/Foo@1.0.0", "--registry", "http://127.0.0.1:9"],
      ["publish", "notes.txt", "--name", "@Acme/Notes", "--version", "1.0.0", "--registry", "http://127.0.0.1:9", "--token", "x"],
      ["publish", "notes.txt", "--name", "@acme/notes", "--version", "v1", "--registry", "http://127.0.0.1:9", "--token", "x"],
      ["admin", "namespace", "add", "@Acme", "--registry", "http://127.0.0.1:9", "--admin-token", "x"],
    ];
    for (const args of cases) {
      const json = failure(await cs([...args, "--json"]), 2);
      expect(json.error, args.join(" ")).not.toContain("internal error");
    }
    expect(failure(await cs([...cases[0]!, "--json"]), 2).error).toBe("@Acme/Foo: package name must be lowercase");
  });

  it("a failure that is not a usage error is JSON too (exit 3, the host named)", async () => {
    const json = failure(await cs(["identity", "http://127.0.0.1:9", "--json"]), 3);
    expect(json.error).toContain("127.0.0.1:9 unreachable");
  });
});

describe("a host that accepts the connection and never answers", () => {
  let server: Server;
  let url: string;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.pause(); // reads nothing, answers nothing
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("COUNTERSIGN_TIMEOUT=1: identity fails after about a second, naming the host, exit 3", async () => {
    const started = Date.now();
    const json = failure(await cs(["identity", url, "--json"], { COUNTERSIGN_TIMEOUT: "1" }), 3);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(json.error).toBe(`${new URL(url).host} unreachable (no answer within 1 s)`);
  });

  it("--timeout 1 does the same, and wins over the environment", async () => {
    const out = await cs(["identity", url, "--timeout", "1"], { COUNTERSIGN_TIMEOUT: "600" });
    expect(out.code).toBe(3);
    expect(out.stderr).toBe(`countersign: ${new URL(url).host} unreachable (no answer within 1 s)\n`);
  });

  it("COUNTERSIGN_TIMEOUT=1: verify of a project pinned to it says it could not verify, naming the host, exit 3", async () => {
    const project = join(work, "project");
    mkdirSync(project, { recursive: true });
    const integrity = `sha512-${Buffer.alloc(64).toString("base64")}`;
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", dependencies: { "@acme/utils": "1.0.0" } }));
    writeFileSync(
      join(project, "package-lock.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        lockfileVersion: 3,
        requires: true,
        packages: { "": { name: "app", version: "1.0.0", dependencies: { "@acme/utils": "1.0.0" } }, "node_modules/@acme/utils": { version: "1.0.0", resolved: `${url}/@acme/utils/-/utils-1.0.0.tgz`, integrity } },
      }),
    );
    writeFileSync(join(project, "countersign.json"), JSON.stringify({ version: 1, registries: { team: { url, fingerprints: ["SHA256:wYePWhAvK1Q9FgGCfAN8kNH7yAXYv+p+d7zt4X/r5l4"] } }, namespaces: { "@acme": "team" } }));
    const started = Date.now();
    const out = await runCli(["verify", "--no-receipt", "--json"], { cwd: project, env: { ...env, COUNTERSIGN_TIMEOUT: "1" }, timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(out.code, out.stderr).toBe(3);
    const report = JSON.parse(out.stdout) as { exitCode: number; packages: { status: string; message: string }[] };
    expect(report.exitCode).toBe(3);
    expect(report.packages[0]).toMatchObject({ status: "unavailable" });
    expect(report.packages[0]!.message).toContain(`${new URL(url).host} unreachable (no answer within 1 s)`);
  });

  it("publish: a registry that stops taking the upload fails after the timeout too, not after the transfer limit", async () => {
    await cs(["keygen", "--force"]);
    writeFileSync(join(work, "big.bin"), Buffer.alloc(16 * 1024 * 1024, 7));
    const started = Date.now();
    const json = failure(await cs(["publish", "big.bin", "--name", "@acme/big", "--version", "1.0.0", "--registry", url, "--token", "x", "--json"], { COUNTERSIGN_TIMEOUT: "1" }), 3);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(json.error).toContain(`${new URL(url).host} unreachable (`);
    expect(json.error).toMatch(/took no more of the upload for 1 s|no answer within 1 s/);
    // not a terminal: no progress line (failure() checked stderr is exactly the one line)
  });

  // script(1) (util-linux) gives the client a pseudo-terminal; its output is what a person sees.
  it("on a terminal, publish shows one progress line on stderr, rewritten in place and cleared; not with --json", async () => {
    const publish = (json: boolean) =>
      new Promise<string>((resolve) => {
        const command = [process.execPath, CLI, "publish", "big.bin", "--name", "@acme/big", "--version", "1.0.0", "--registry", url, "--token", "x", ...(json ? ["--json"] : [])].join(" ");
        execFile("script", ["-qec", command, "/dev/null"], { cwd: work, env: cleanEnv({ ...env, COUNTERSIGN_TIMEOUT: "2" } as unknown as Record<string, string>), timeout: 60_000 }, (_error, stdout) => resolve(stdout));
      });
    const seen = await publish(false);
    expect(seen).toMatch(/\rcountersign: uploading \d+\.\d MiB \/ 16\.0 MiB \(\d+%\)/);
    expect(seen).toMatch(/\r +\rcountersign: 127\.0\.0\.1:\d+ unreachable/); // cleared before the error
    expect(seen).not.toContain("\n\rcountersign: uploading"); // one line, never scrolled
    const quiet = await publish(true);
    expect(quiet).not.toContain("uploading");
    expect(quiet).toContain('"exitCode": 3');
  });
});
