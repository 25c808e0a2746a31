/**
 * The client's conventions, unit by unit: "did you mean" for mistyped commands and options, the
 * mapping of every failure to exit 0/1/2/3 (never 70) and its --json form, the configurable
 * request timeout, and the progress line (only on a terminal, never under --json).
 */

import { afterEach, describe, expect, it } from "vitest";
import { parse, parseSpec, wrongArguments, type Command } from "../../scripts/cli/command.js";
import { CliError, errorJson, EXIT, toCliError, usageError } from "../../scripts/cli/errors.js";
import { DEFAULT_TIMEOUT_SECONDS, parseTimeoutSeconds, requestTimeoutMs, setTimeoutSeconds } from "../../scripts/cli/http.js";
import { createProgress } from "../../scripts/cli/progress.js";
import { closest, didYouMean, editDistance } from "../../scripts/cli/suggest.js";

const COMMANDS = ["keygen", "publish", "init", "pin", "verify", "add", "fetch", "verify-artifact", "inspect", "review", "identity", "admin", "registry-keygen"];

describe("did you mean", () => {
  it("edit distance counts insertions, deletions, substitutions and adjacent swaps once each", () => {
    expect(editDistance("publish", "publish")).toBe(0);
    expect(editDistance("pubish", "publish")).toBe(1);
    expect(editDistance("pubilsh", "publish")).toBe(1);
    expect(editDistance("verfy", "verify")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it.each([
    ["pubish", "publish"],
    ["verfiy", "verify"],
    ["Verify", "verify"],
    ["idenity", "identity"],
    ["inspcet", "inspect"],
    ["regsitry-keygen", "registry-keygen"],
    ["verify-art", "verify-artifact"],
  ])("%s → %s", (typo, expected) => {
    expect(closest(typo, COMMANDS)).toBe(expected);
  });

  it("suggests nothing for something unrelated, or an ambiguous prefix", () => {
    expect(closest("frobnicate", COMMANDS)).toBeUndefined();
    expect(closest("x", COMMANDS)).toBeUndefined();
    expect(closest("ver", ["verify", "verbose"])).toBeUndefined();
    expect(didYouMean("frobnicate", COMMANDS)).toBe("");
  });

  it("formats the suggestion", () => {
    expect(didYouMean("fingerprnt", ["fingerprint", "registry"], (o) => `--${o}`)).toBe(" (did you mean --fingerprint?)");
  });
});

const fake: Command = {
  name: "fake",
  summary: "a command for tests",
  usage: "countersign fake <thing> [--fingerprint FP] [--verbose] [--json]",
  options: { fingerprint: { type: "string" }, verbose: { type: "boolean" }, json: { type: "boolean" } },
  run: async () => 0,
};

function usageOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error("expected a usage error");
}

describe("argument errors are usage errors (exit 2), one line, with the usage in detail", () => {
  it("an unknown option names the closest one", () => {
    const err = usageOf(() => parse(fake, ["x", "--fingerprnt", "SHA256:x"]));
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toBe("fake: unknown option --fingerprnt (did you mean --fingerprint?)");
    expect(err.message).not.toContain("\n");
    expect(err.detail).toEqual({ command: "fake", usage: fake.usage });
    expect(usageOf(() => parse(fake, ["--verbos"])).message).toContain("did you mean --verbose?");
    expect(usageOf(() => parse(fake, ["--timout", "3"])).message).toContain("did you mean --timeout?"); // global options too
    expect(usageOf(() => parse(fake, ["--frobnicate"])).message).toBe("fake: unknown option --frobnicate");
  });

  it("a missing option value is a usage error", () => {
    const err = usageOf(() => parse(fake, ["--fingerprint"]));
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toMatch(/^fake: Option '--fingerprint <value>' argument missing$/);
  });

  it("wrong positional arguments say what was expected", () => {
    const err = wrongArguments(fake, "one <thing>", ["a", "b"]);
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toBe('fake takes one <thing>; got "a" "b"');
    expect(wrongArguments(fake, "one <thing>", []).message).toBe("fake takes one <thing>; none given");
  });

  it("an upper-case or otherwise invalid name is a usage error, not an internal one", () => {
    for (const spec of ["@Acme/Foo@1.0.0", "Foo@1.0.0", "@acme/fo o@1.0.0"]) {
      const err = usageOf(() => parseSpec(spec));
      expect(err.exitCode, spec).toBe(EXIT.usage);
    }
    expect(usageOf(() => parseSpec("@Acme/Foo@1.0.0")).message).toBe("@Acme/Foo: package name must be lowercase");
    expect(parseSpec("@acme/foo@1.0.0")).toEqual({ name: "@acme/foo", version: "1.0.0" });
  });
});

describe("exit codes: only 0, 1, 2, 3", () => {
  it("keeps a CliError's code and detail", () => {
    expect(toCliError(usageError("bad")).exitCode).toBe(2);
    expect(toCliError(new CliError("rejected", EXIT.rejected, { layer: "binding" })).detail).toEqual({ layer: "binding" });
  });

  it("maps an unexpected exception to exit 3 'internal error', mentioning COUNTERSIGN_DEBUG", () => {
    const err = toCliError(new TypeError("boom"));
    expect(err.exitCode).toBe(EXIT.unavailable);
    expect(err.message).toMatch(/^internal error: boom .*COUNTERSIGN_DEBUG=1/);
    expect(toCliError("a string").exitCode).toBe(3);
  });

  it("maps a CliError with any other code (a bug) to 3", () => {
    expect(toCliError(new CliError("odd", 70)).exitCode).toBe(3);
  });

  it("--json form: { error, exitCode, ...detail }, error and exitCode first and never overwritten by detail", () => {
    const json = errorJson(new CliError("registry refused (403): no", EXIT.rejected, { error: { code: "forbidden" }, status: 403 }));
    expect(json).toEqual({ error: "registry refused (403): no", exitCode: 1, status: 403 });
    expect(Object.keys(json).slice(0, 2)).toEqual(["error", "exitCode"]);
    expect(errorJson(new CliError("x", 3, ["a"]))).toEqual({ error: "x", exitCode: 3, detail: ["a"] });
    expect(errorJson(usageError("y"))).toEqual({ error: "y", exitCode: 2 });
  });
});

describe("the request timeout", () => {
  const saved = { s: process.env.COUNTERSIGN_TIMEOUT, ms: process.env.COUNTERSIGN_TIMEOUT_MS };
  afterEach(() => {
    for (const [key, value] of [["COUNTERSIGN_TIMEOUT", saved.s], ["COUNTERSIGN_TIMEOUT_MS", saved.ms]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it("defaults to 30 s; COUNTERSIGN_TIMEOUT (seconds) beats COUNTERSIGN_TIMEOUT_MS; --timeout beats both", () => {
    delete process.env.COUNTERSIGN_TIMEOUT;
    delete process.env.COUNTERSIGN_TIMEOUT_MS;
    expect(DEFAULT_TIMEOUT_SECONDS).toBe(30);
    expect(requestTimeoutMs()).toBe(30_000);
    process.env.COUNTERSIGN_TIMEOUT_MS = "1500";
    expect(requestTimeoutMs()).toBe(1500);
    process.env.COUNTERSIGN_TIMEOUT = "2.5";
    expect(requestTimeoutMs()).toBe(2500);
    setTimeoutSeconds(7);
    expect(requestTimeoutMs()).toBe(7000);
  });

  it("refuses a value that is not a positive number of seconds (usage error)", () => {
    for (const bad of [undefined, "", "0", "-1", "abc", "Infinity"]) {
      expect(() => parseTimeoutSeconds(bad, "--timeout"), String(bad)).toThrow(/--timeout must be a positive number of seconds/);
    }
    expect(parseTimeoutSeconds("0.5", "--timeout")).toBe(0.5);
  });
});

describe("the progress line", () => {
  function stream(isTTY: boolean) {
    const writes: string[] = [];
    return { writes, stream: { isTTY, columns: 60, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
  }

  it("on a terminal: one line rewritten with \\r, cleared at the end", () => {
    const { writes, stream: s } = stream(true);
    const progress = createProgress("uploading", { total: 4 * 1024 * 1024, unit: "bytes", stream: s, intervalMs: 0, delayMs: 0 });
    expect(progress.active).toBe(true);
    progress.add(1024 * 1024);
    progress.add(1024 * 1024);
    progress.done();
    progress.done();
    expect(writes[0]).toBe("\rcountersign: uploading 1.0 MiB / 4.0 MiB (25%)");
    expect(writes[1]).toBe("\rcountersign: uploading 2.0 MiB / 4.0 MiB (50%)");
    expect(writes.at(-1)).toMatch(/^\r +\r$/);
    expect(writes).toHaveLength(3);
    expect(writes.join("")).not.toContain("\n");
  });

  it("counts items as n/total", () => {
    const { writes, stream: s } = stream(true);
    const progress = createProgress("verifying", { total: 380, stream: s, intervalMs: 0, delayMs: 0 });
    progress.update(190);
    progress.done();
    expect(writes[0]).toBe("\rcountersign: verifying 190 / 380 (50%)");
  });

  it("the total can arrive with the first update (verify learns it once the lockfiles are planned)", () => {
    const { writes, stream: s } = stream(true);
    const progress = createProgress("verifying", { stream: s, intervalMs: 0, delayMs: 0 });
    progress.update(3, 12);
    progress.update(12, 12);
    progress.done();
    expect(writes.slice(0, 2)).toEqual(["\rcountersign: verifying 3 / 12 (25%)", "\rcountersign: verifying 12 / 12 (100%)"]);
  });

  it("short work draws nothing (delay), and nothing is drawn when not a TTY or under --json", () => {
    for (const [tty, json, delayMs] of [[true, false, 60_000], [false, false, 0], [true, true, 0]] as const) {
      const { writes, stream: s } = stream(tty);
      const progress = createProgress("hashing", { total: 10, stream: s, json, intervalMs: 0, delayMs });
      progress.update(5);
      progress.done();
      expect(writes, `tty=${tty} json=${json}`).toEqual([]);
    }
  });
});
