/**
 * @module
 * The countersign client: `countersign <command> [options]`. Exit codes: 0 success,
 * 1 rejected (verification or a registry refusal), 2 usage, 3 registry/network/file failure.
 */

import "./native-ed25519.js";
import { parse, type Command } from "./command.js";
import { add } from "./commands/add.js";
import { admin } from "./commands/admin.js";
import { fetchArtifact, verifyArtifact } from "./commands/fetch.js";
import { identity } from "./commands/identity.js";
import { inspect } from "./commands/inspect.js";
import { keygen, registryKeygen } from "./commands/keys.js";
import { pin } from "./commands/pin.js";
import { publish } from "./commands/publish.js";
import { review } from "./commands/review.js";
import { verify } from "./commands/verify.js";
import { CliError, EXIT } from "./errors.js";

const COMMANDS: Command[] = [keygen, publish, pin, verify, add, fetchArtifact, verifyArtifact, inspect, review, identity, admin, registryKeygen];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "countersign: publish and verify packages with registry provenance",
    "",
    "usage: countersign <command> [options]   (countersign <command> --help for details)",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "exit codes: 0 ok, 1 rejected, 2 usage error, 3 registry/network/file failure",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${help()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`countersign: unknown command "${name}"\n\n${help()}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parse(command, rest);
  if (values.help) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return EXIT.ok;
  }
  return command.run(values, positionals);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`countersign: ${err.message}\n`);
      if (process.argv.includes("--json") && err.detail !== undefined) process.stdout.write(`${JSON.stringify({ error: err.message, detail: err.detail }, null, 2)}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`countersign: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      if (process.env.COUNTERSIGN_DEBUG) console.error(err);
      process.exitCode = 70;
    }
  },
);
