/**
 * @module
 * The countersign client: `countersign <command> [options]`. Exit codes: 0 success,
 * 1 rejected (verification or a registry refusal), 2 usage, 3 registry/network/file failure
 * (and internal errors; errors.ts). Global options, taken out before the command's own:
 * `--timeout SECONDS` anywhere, `--version`/`-V` before the command; `--json` makes every
 * failure, usage errors included, one JSON object on stdout.
 */

import "./native-ed25519.js";
import { GLOBAL_OPTIONS, parse, type Command } from "./command.js";
import { add } from "./commands/add.js";
import { admin } from "./commands/admin.js";
import { approve } from "./commands/approve.js";
import { fetchArtifact, verifyArtifact } from "./commands/fetch.js";
import { identity } from "./commands/identity.js";
import { init } from "./commands/init.js";
import { inspect } from "./commands/inspect.js";
import { keygen, registryKeygen } from "./commands/keys.js";
import { monitor } from "./commands/monitor.js";
import { pin } from "./commands/pin.js";
import { publish } from "./commands/publish.js";
import { review } from "./commands/review.js";
import { verify } from "./commands/verify.js";
import { CliError, errorJson, EXIT, toCliError, usageError } from "./errors.js";
import { DEFAULT_TIMEOUT_SECONDS, parseTimeoutSeconds, setTimeoutSeconds } from "./http.js";
import { didYouMean } from "./suggest.js";
import { VERSION } from "./version.js";

const COMMANDS: Command[] = [keygen, publish, approve, init, pin, verify, add, fetchArtifact, verifyArtifact, monitor, inspect, review, identity, admin, registryKeygen];

const GLOBAL_HELP = [
  "options of every command:",
  "  --json               machine-readable output on stdout; every failure too: {\"error\", \"exitCode\", ...}",
  `  --timeout SECONDS    time limit of one network request (default ${DEFAULT_TIMEOUT_SECONDS}; env COUNTERSIGN_TIMEOUT;`,
  "                       uploads and tarball downloads: 300 s, COUNTERSIGN_TRANSFER_TIMEOUT_MS)",
  "  -h, --help           this help, or a command's",
  "  -V, --version        the client's version (before the command)",
  "",
  "exit codes: 0 ok, 1 rejected, 2 usage error, 3 registry/network/file failure (or an internal error:",
  "COUNTERSIGN_DEBUG=1 prints its stack trace)",
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `countersign ${VERSION}: publish and verify packages with registry provenance`,
    "",
    "usage: countersign <command> [options]   (countersign <command> --help for details)",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    ...GLOBAL_HELP,
  ].join("\n");
}

/** Whether --json is on the command line (before a `--`): failures are then JSON too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** Takes `--timeout SECONDS` / `--timeout=SECONDS` out of argv (before a `--`) and applies it. */
function takeTimeout(argv: string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--timeout") setTimeoutSeconds(parseTimeoutSeconds(argv[++i], "--timeout"));
    else if (arg.startsWith("--timeout=")) setTimeoutSeconds(parseTimeoutSeconds(arg.slice("--timeout=".length), "--timeout"));
    else rest.push(arg);
  }
  return rest;
}

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  const args = takeTimeout(argv);
  // Options before the command (--json, --help, --version) count as the command's or global.
  const at = args.findIndex((a) => !a.startsWith("-"));
  const leading = at < 0 ? args : args.slice(0, at);
  const name = at < 0 ? undefined : args[at]!;
  const rest = at < 0 ? [] : [...leading, ...args.slice(at + 1)];
  if (leading.includes("--version") || leading.includes("-V")) {
    process.stdout.write(json ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`);
    return EXIT.ok;
  }
  if (name === "help" || leading.includes("--help") || leading.includes("-h")) {
    process.stdout.write(`${help()}\n`);
    return EXIT.ok;
  }
  if (name === undefined) {
    const unknown = leading.find((a) => a !== "--json");
    if (unknown) throw usageError(`unknown option ${unknown}${didYouMean(unknown.replace(/^-+/, "").replace(/=.*$/, ""), GLOBAL_OPTIONS, (n) => `--${n}`)}; countersign --help lists the commands`, { commands: COMMANDS.map((c) => c.name) });
    if (json) throw usageError("no command given (countersign --help lists them)", { commands: COMMANDS.map((c) => c.name) });
    process.stdout.write(`${help()}\n`);
    return EXIT.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const names = COMMANDS.map((c) => c.name);
    throw usageError(`unknown command "${name}"${didYouMean(name, names)}; countersign --help lists the commands`, { commands: names });
  }
  // --version after a command that has no --version of its own (publish's is the package's).
  if (!("version" in command.options) && rest.some((a) => a === "--version" || a === "-V") && !rest.includes("--")) {
    process.stdout.write(json ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`);
    return EXIT.ok;
  }
  const { values, positionals } = parse(command, rest);
  if (values.help) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n\n${GLOBAL_HELP.join("\n")}\n`);
    return EXIT.ok;
  }
  return command.run(values, positionals);
}

/** Prints a failure (one line on stderr; with --json, one object on stdout) and returns its exit code. */
function report(err: unknown, json: boolean): number {
  let error = toCliError(err);
  // A usage error that is only the usage text (`usage: countersign …`): one line, usage in detail.
  if (error.exitCode === EXIT.usage && error.message.startsWith("usage: ")) {
    const usage = error.message.slice("usage: ".length);
    error = new CliError(`wrong arguments for ${usage.split(" ").slice(0, 2).join(" ")}`, EXIT.usage, { usage });
  }
  process.stderr.write(`countersign: ${error.message}\n`);
  const usage = (error.detail as { usage?: unknown } | undefined)?.usage;
  if (!json && error.exitCode === EXIT.usage && typeof usage === "string") process.stderr.write(`usage: ${usage}\n`);
  if (json) process.stdout.write(`${JSON.stringify(errorJson(error), null, 2)}\n`);
  if (!(err instanceof CliError) && process.env.COUNTERSIGN_DEBUG) console.error(err);
  return error.exitCode;
}

const argv = process.argv.slice(2);
// Whatever escapes (a stream's late 'error', a stray rejection) is still one line and exit 3, never a stack trace and 1.
const escaped = (err: unknown) => {
  process.exitCode = report(err, wantsJson(argv));
  process.exit();
};
process.on("uncaughtException", escaped);
process.on("unhandledRejection", escaped);

main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = report(err, wantsJson(argv));
  },
);
