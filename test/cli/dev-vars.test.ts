/**
 * `npm start`'s .dev.vars (scripts/server/dev-vars.ts): a first run writes every secret, an
 * existing file made before NPM_SIGNING_KEY existed gets only that line appended, and an unusable
 * npm key is one line naming the variable, never its value.
 */

import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureDevVars, type DevVars } from "../../scripts/server/dev-vars.js";
import { createNpmSigner } from "../../src/core/index.js";

const fresh = () => join(mkdtempSync(join(tmpdir(), "countersign-devvars-")), ".dev.vars");

describe(".dev.vars", () => {
  it("a first run writes the signing key, the npm signing key and the admin token (mode 600); a second changes nothing", async () => {
    const path = fresh();
    const first = (await ensureDevVars(path)) as DevVars;
    const text = readFileSync(path, "utf8");
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const secret = /^NPM_SIGNING_KEY="([^"]+)"$/m.exec(text)![1]!;
    expect((await createNpmSigner(secret)).keyid).toBe(first.npmKeyid);
    expect(text).toMatch(/^REGISTRY_SIGNING_KEY="/m);
    expect(text).toMatch(/^ADMIN_TOKEN="cs_admin_/m);
    const second = (await ensureDevVars(path)) as DevVars;
    expect(readFileSync(path, "utf8")).toBe(text);
    expect(second).toMatchObject({ created: false, npmKeyid: first.npmKeyid, adminToken: first.adminToken });
  });

  it("an existing file gets only the missing NPM_SIGNING_KEY, appended: every other byte stays", async () => {
    const path = fresh();
    const before = '# mine\nREGISTRY_SIGNING_KEY="dGVzdC1vbmx5IHNpZ25pbmcga2V5IC0gbm90IHNlY3I="\nADMIN_TOKEN="cs_admin_kept"\nOTHER=1';
    writeFileSync(path, before, { mode: 0o600 });
    const vars = (await ensureDevVars(path)) as DevVars;
    const after = readFileSync(path, "utf8");
    expect(after.startsWith(`${before}\n`)).toBe(true);
    expect(after.slice(before.length + 1)).toMatch(/^# development npm signing key .*\nNPM_SIGNING_KEY="[A-Za-z0-9+/=]+"\n$/);
    expect(vars).toMatchObject({ adminToken: "cs_admin_kept", created: false });
  });

  it("an unusable NPM_SIGNING_KEY is refused by name, without its value", async () => {
    const path = fresh();
    writeFileSync(path, 'REGISTRY_SIGNING_KEY="dGVzdC1vbmx5IHNpZ25pbmcga2V5IC0gbm90IHNlY3I="\nADMIN_TOKEN="x"\nNPM_SIGNING_KEY="c2VjcmV0LXZhbHVl"\n');
    const refusal = await ensureDevVars(path);
    expect(refusal).toBe(".dev.vars: NPM_SIGNING_KEY is not base64 of a PKCS#8 ECDSA P-256 key (delete the line to make a new key)");
  });
});
