/**
 * `.dev.vars.example` (committed; `.dev.vars` stays gitignored): it names every secret and variable
 * the Worker reads (src/worker/env.ts), sets none of them (placeholders in comments only, so no
 * secret can land in it), and a `.dev.vars` copied from it is one `npm start` completes.
 */

import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ensureDevVars, type DevVars } from "../../scripts/server/dev-vars.js";
import { ROOT } from "../helpers/paths.js";

const example = readFileSync(join(ROOT, ".dev.vars.example"), "utf8");

it("names every string secret and variable of the Worker's Env", () => {
  const env = readFileSync(join(ROOT, "src", "worker", "env.ts"), "utf8");
  const names = [...env.matchAll(/^\s*([A-Z][A-Z0-9_]*)\??: string;/gm)].map((m) => m[1]!);
  expect(names).toEqual(expect.arrayContaining(["REGISTRY_SIGNING_KEY", "ADMIN_TOKEN", "NPM_SIGNING_KEY", "REGISTRY_ORIGIN", "LOG_WITNESSES"]));
  for (const name of names) expect(example, name).toMatch(new RegExp(`^# ${name}="[^"]*"$`, "m"));
});

it("sets nothing: every line is a comment or blank", () => {
  for (const line of example.split("\n")) expect(line).toMatch(/^(#.*)?$/);
});

it("copied to .dev.vars, npm start fills in the secrets", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "countersign-devvars-example-")), ".dev.vars");
  copyFileSync(join(ROOT, ".dev.vars.example"), path);
  const vars = (await ensureDevVars(path)) as DevVars;
  expect(vars.created).toBe(true);
  expect(readFileSync(path, "utf8").startsWith(example)).toBe(true);
});
