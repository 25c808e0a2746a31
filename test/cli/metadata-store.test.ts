/**
 * The client's store of accepted package metadata floors (scripts/cli/log/metadata-store.ts):
 * written atomically with mode 0600 beside the checkpoints, floors only rise (also against a
 * concurrent writer's file), and a file that is not floors is an error naming it, never a reset.
 */

import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import { metadataFloorPath, metadataStore } from "../../scripts/cli/log/metadata-store.js";
import { signerFromSeedByte } from "../helpers/bundles.js";

const floor = (serial: number, byte = "a") => ({ serial, contentSha256: byte.repeat(64) });
const state = () => mkdtempSync(join(tmpdir(), "cs-metadata-store-"));

describe("metadataStore", () => {
  it("stores per registry key and package, in <state>/metadata/, mode 0600, with no temporary file left", async () => {
    const dir = state();
    const { keyid } = await signerFromSeedByte(1);
    const store = metadataStore(dir);
    expect(store.read(keyid, "@acme/utils")).toBeUndefined();
    store.raise(keyid, new Map([["@acme/utils", floor(5)], ["@acme/lib", floor(7, "b")]]));
    const path = metadataFloorPath(keyid, dir);
    expect(store.path(keyid)).toBe(path);
    expect(dirname(path)).toBe(join(dir, "metadata"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "metadata"))).toEqual([path.split("/").pop()]);
    // A new store (the next run) reads what the last one wrote.
    const next = metadataStore(dir);
    expect(next.read(keyid, "@acme/utils")).toEqual(floor(5));
    expect(next.read(keyid, "@acme/lib")).toEqual(floor(7, "b"));
    expect(next.read((await signerFromSeedByte(2)).keyid, "@acme/utils")).toBeUndefined();
  });

  it("floors only rise: a lower serial is ignored, a higher one replaces, and another run's higher floor on disk is kept", async () => {
    const dir = state();
    const { keyid } = await signerFromSeedByte(1);
    const store = metadataStore(dir);
    store.raise(keyid, new Map([["@acme/utils", floor(10)]]));
    store.raise(keyid, new Map([["@acme/utils", floor(3, "c")]]));
    expect(metadataStore(dir).read(keyid, "@acme/utils")).toEqual(floor(10));
    store.raise(keyid, new Map([["@acme/utils", floor(11, "d")]]));
    expect(metadataStore(dir).read(keyid, "@acme/utils")).toEqual(floor(11, "d"));

    // Another process raised it to 20 meanwhile; this one, holding 11, writes another package.
    metadataStore(dir).raise(keyid, new Map([["@acme/utils", floor(20, "e")]]));
    store.raise(keyid, new Map([["@acme/utils", floor(12)], ["@acme/lib", floor(1)]]));
    const after = metadataStore(dir);
    expect(after.read(keyid, "@acme/utils")).toEqual(floor(20, "e"));
    expect(after.read(keyid, "@acme/lib")).toEqual(floor(1));
  });

  it("a file from before digest format 2 keeps its serials and drops its digests; the next accepted statement sets one", async () => {
    const dir = state();
    const { keyid } = await signerFromSeedByte(1);
    const path = metadataFloorPath(keyid, dir);
    mkdirSync(dirname(path), { recursive: true });
    // Digests of the old format included the signer: after a key rotation they would not match.
    writeFileSync(path, JSON.stringify({ registry: keyid, packages: { "@acme/utils": floor(9) } }));
    const store = metadataStore(dir);
    expect(store.read(keyid, "@acme/utils")).toEqual({ serial: 9 });
    store.raise(keyid, new Map([["@acme/utils", floor(8, "b")]]));
    expect(metadataStore(dir).read(keyid, "@acme/utils")).toEqual({ serial: 9 });
    store.raise(keyid, new Map([["@acme/utils", floor(9, "c")]]));
    expect(metadataStore(dir).read(keyid, "@acme/utils")).toEqual(floor(9, "c"));
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ registry: keyid, digest: 2 });
    // Once set, the same serial does not replace it (that would be an equivocation, refused before a raise).
    store.raise(keyid, new Map([["@acme/utils", floor(9, "d")]]));
    expect(metadataStore(dir).read(keyid, "@acme/utils")).toEqual(floor(9, "c"));
  });

  it.each([
    ["not JSON", "{"],
    ["not a floor file", "[]"],
    ["for another registry key", JSON.stringify({ registry: "SHA256:other", packages: {} })],
    ["a malformed entry", null],
  ])("a file that is %s is an error (exit 2) naming it, not an empty store", async (_label, text) => {
    const dir = state();
    const { keyid } = await signerFromSeedByte(1);
    const path = metadataFloorPath(keyid, dir);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text ?? JSON.stringify({ registry: keyid, packages: { "@acme/utils": { serial: -1, contentSha256: "x" } } }));
    const store = metadataStore(dir);
    let thrown: unknown;
    try {
      store.read(keyid, "@acme/utils");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect((thrown as CliError).exitCode).toBe(EXIT.usage);
    expect((thrown as CliError).message).toContain(path);
    // Nor is it overwritten by a write.
    expect(() => store.raise(keyid, new Map([["@acme/utils", floor(1)]]))).toThrow(CliError);
    expect(readFileSync(path, "utf8")).toBe(text ?? readFileSync(path, "utf8"));
  });
});
