/**
 * @module
 * `review`: a human reviewer signs, with their own key, that they reviewed exactly the bytes of
 * name@version. The digests come from a local tarball (`--file`, before or after publishing) or
 * from the registry's bundle, verified first against the pinned fingerprint, so a reviewer never
 * signs digests they did not check. The review is attached to the version at the registry, or
 * written to a file with `--out`.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createSigner, describeFailure, REVIEW_VERDICTS, signReview, verifyBundle, type ArtifactDigests } from "../../../src/core/index.js";
import { emit, JSON_OPTION, parseSpec, REGISTRY_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { hashFile } from "../files.js";
import { encodeName, registryBase, requestJson } from "../http.js";
import { readKeyFile } from "../keyfile.js";
import { download } from "./fetch.js";

export const review: Command = {
  name: "review",
  summary: "sign a human review of name@version with your own key, and attach it at the registry",
  usage:
    "countersign review <name@version> --key REVIEWER_KEY (--file TARBALL | --registry URL --fingerprint SHA256:...) [--verdict approved|changes-requested] [--note TEXT] [--out FILE] [--json]\n" +
    "  attaching needs a token: $COUNTERSIGN_TOKEN",
  options: {
    ...REGISTRY_OPTION,
    key: { type: "string", short: "k" },
    file: { type: "string" },
    fingerprint: { type: "string" },
    verdict: { type: "string" },
    note: { type: "string" },
    out: { type: "string", short: "o" },
    ...JSON_OPTION,
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const verdict = (str(values, "verdict") ?? "approved") as (typeof REVIEW_VERDICTS)[number];
    if (!REVIEW_VERDICTS.includes(verdict)) throw usageError(`--verdict must be ${REVIEW_VERDICTS.join(" or ")}`);
    const keyPath = str(values, "key");
    if (!keyPath) throw usageError("--key is required: the reviewer's own key (countersign keygen --out reviewer.json)");
    const reviewer = await createSigner(await readKeyFile(keyPath));

    const file = str(values, "file");
    const registryUrl = str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY;
    let digests: ArtifactDigests;
    if (file) {
      digests = await hashFile(file);
    } else {
      const registry = registryBase(registryUrl);
      const pinned = str(values, "fingerprint");
      if (!pinned) throw usageError("--fingerprint is required to review what the registry serves (or review a local --file)");
      // Review the bytes the registry serves, verified against the pin: never sign unchecked digests.
      const base = `${registry}/-/countersign/v1/packages/${encodeName(name)}/${encodeURIComponent(version)}`;
      const bundle = await requestJson<unknown>(base);
      const temp = join(mkdtempSync(join(tmpdir(), "countersign-review-")), "artifact");
      try {
        const downloaded = await download(`${base}/artifact`, temp);
        const checked = await verifyBundle({ name, version, artifact: downloaded, bundle, pinned: [pinned] });
        if (!checked.ok) throw new CliError(`not reviewing what does not verify: ${describeFailure(checked.error)}`, EXIT.rejected);
        digests = checked.value.digests;
      } finally {
        rmSync(dirname(temp), { recursive: true, force: true });
      }
    }
    const note = str(values, "note");
    const envelope = await signReview({ name, version, digests }, reviewer, { verdict, ...(note ? { note } : {}) });

    const out = str(values, "out");
    if (out) {
      writeFileSync(out, `${JSON.stringify(envelope, null, 2)}\n`);
      emit(values, `review of ${name}@${version} by ${reviewer.keyid} (${verdict}) written to ${out}`, { name, version, reviewer: reviewer.keyid, verdict, path: out });
      return 0;
    }
    const registry = registryBase(registryUrl);
    const token = process.env.COUNTERSIGN_TOKEN;
    if (!token) throw usageError("attaching a review needs a token: set COUNTERSIGN_TOKEN (or write it with --out)");
    await requestJson(`${registry}/-/countersign/v1/packages/${encodeName(name)}/${encodeURIComponent(version)}/reviews`, {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(envelope),
    });
    emit(values, `review of ${name}@${version} by ${reviewer.keyid} (${verdict}) attached at ${registry}`, { name, version, reviewer: reviewer.keyid, verdict, registry });
    return 0;
  },
};
