/**
 * @module
 * `monitor <namespace>`: what a registry's transparency log says was published in a namespace,
 * read entry by entry and proved to be the tree its checkpoint signs.
 *
 * 1. The registry pinned for the namespace (countersign.json; `--registry URL` names one, whose
 *    fingerprint must still be pinned for that namespace); its key and origin from its signed
 *    identity document, checked against the pinned fingerprints.
 * 2. The log's checkpoint, opened under that key, proved consistent with the checkpoint stored by
 *    the last verify or monitor run (log/check.ts `advanceView`), then stored.
 * 3. The entries from where the last run stopped for this registry and namespace (`--from INDEX`
 *    overrides; the first run starts at 0) to the checkpoint's size, read from the entry bundles
 *    and appended to a compact range (log/frontier.ts) started from the tiles' hashes of the
 *    entries before. The resulting root must be the checkpoint's: otherwise the entries (or the
 *    tiles) are not the tree the log signed, and nothing is listed.
 * 4. Every entry parsed (`parseLogEntry`: an entry that does not parse is an error, never
 *    skipped); the countersignatures in the namespace listed, and its registry statements
 *    (PROTOCOL §20): the namespace's claim, each publisher key enrolled or revoked — so a key
 *    the registry gives the namespace is seen whether or not it ever publishes; and each new
 *    serial of a package's signed metadata (PROTOCOL §19.1), so every dist-tag move is seen.
 *
 * Exit 0 done; 1 split view, entries that are not the signed tree, a checkpoint that does not
 * open; 2 usage; 3 the registry or its log unreachable.
 */

import { resolve } from "node:path";
import {
  fromBase64,
  parseLogEntry,
  PINS_FILE,
  resolvePin,
  TILE_WIDTH,
  toBase64,
  checkNamespace,
  equalBytes,
  type LogEntry,
  type RegistryStatement,
  listedKeys,
  namespaceOf,
  rootOf,
} from "../../../src/core/index.js";
import { emit, JSON_OPTION, REGISTRY_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { advanceView } from "../log/check.js";
import { leafHashSync } from "../log/fast.js";
import { Frontier } from "../log/frontier.js";
import { describeCheckpoint, LogReader, LogRejection } from "../log/reader.js";
import { checkpointStore, readMonitorPosition, writeMonitorPosition } from "../log/store.js";
import { loadPins } from "../pins-file.js";
import { didYouMean } from "../suggest.js";
import { witnessVerifiers } from "../verification/provenance.js";
import { fetchIdentity } from "./identity.js";

export interface Publication {
  index: number;
  name: string;
  version: string;
  publishedAt: string;
  /** The publisher key's fingerprint. */
  publisher: string;
  /** The fingerprint of the registry key that countersigned it. */
  registryKey: string;
  sha512: string;
}

export interface MonitorReport {
  registry: string;
  namespace: string;
  origin: string;
  checkpoint: { size: number; root: string; cosignatures: number };
  /** First and one-past-last log index read (`to` = the checkpoint's size). */
  from: number;
  to: number;
  entries: number;
  publications: Publication[];
  /** The namespace's registry statements in the entries read: claim, enrolments, revocations. */
  statements: KeyEvent[];
  /**
   * Each new serial of a package's signed metadata (PROTOCOL §19.1): a version added, a dist-tag
   * moved, a deprecation, a revocation. Its digest is of what that serial lists; a consumer shown
   * a statement of that serial with other contents was shown a view no one else saw.
   */
  metadata: MetadataChange[];
}

export interface MetadataChange {
  index: number;
  name: string;
  serial: number;
  contentSha256: string;
}

export interface KeyEvent {
  index: number;
  kind: "namespace_claimed" | "key_enrolled" | "key_revoked" | "registry_key_rotated";
  at: string;
  /** The publisher key enrolled or revoked; for a rotation, the registry's new key. */
  keyid?: string;
  /** registry_key_rotated: the registry key rotated away. */
  from?: string;
  label?: string;
  /** key_revoked: its versions from this sequence number on are void. */
  since?: number;
}

/** Entry bundles fetched ahead of the one being hashed. */
const AHEAD = 4;

export const monitor: Command = {
  name: "monitor",
  summary: "list what a registry's transparency log published in a namespace, verified against its checkpoint",
  usage:
    "countersign monitor <namespace> [--registry URL] [--from INDEX] [--dir DIR] [--pins FILE] [--json]\n" +
    "  namespace: a scope (@acme) or an unscoped name, pinned to a registry in countersign.json\n" +
    "  --registry: the registry to read (its key must be pinned for the namespace); default: the pinned one\n" +
    "  --from: the first log index to read (default: where the last run stopped, 0 the first time)\n" +
    "  checks the log's checkpoint is consistent with the one stored last (config directory, checkpoints/;\n" +
    "  COUNTERSIGN_LOG_STATE_DIR) and that the entries read are exactly the tree it signs\n" +
    "  exit 0 done, 1 split view or entries that are not the signed tree, 3 registry or log unreachable",
  options: { ...REGISTRY_OPTION, from: { type: "string" }, dir: { type: "string" }, pins: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <namespace>", positionals);
    const namespace = positionals[0]!;
    const check = checkNamespace(namespace);
    if (!check.ok) throw usageError(`${namespace}: ${check.reason}`, { command: this.name, usage: this.usage });
    const fromText = str(values, "from");
    const from = fromText === undefined ? undefined : /^(?:0|[1-9][0-9]{0,15})$/.test(fromText) && Number.isSafeInteger(Number(fromText)) ? Number(fromText) : NaN;
    if (Number.isNaN(from)) throw usageError(`--from must be a log index (a whole number from 0), not "${fromText}"`, { command: this.name, usage: this.usage });

    const dir = resolve(str(values, "dir") ?? ".");
    const pinsPath = resolve(dir, str(values, "pins") ?? PINS_FILE);
    const pins = loadPins(pinsPath);
    const { rule } = resolvePin(pins, namespace);
    if (rule.kind !== "registry") {
      const pinned = Object.entries(pins.namespaces).filter(([, target]) => Object.hasOwn(pins.registries, target)).map(([ns]) => ns);
      throw usageError(`${namespace} is not pinned to a registry in ${pinsPath} (it is "${rule.kind}")${didYouMean(namespace, pinned)}: monitor reads the log of the registry a namespace is pinned to`, { pinned });
    }
    const given = str(values, "registry");
    const base = registryBase(given ?? rule.url);

    // The key and origin, from the signed identity document, under the pinned fingerprints.
    // After a key rotation (PROTOCOL §21) the document is signed by the key the pins lead to; the
    // log's history is still named on this machine by its first key.
    const identity = await fetchIdentity(base, rule.fingerprints);
    const key = identity.document.keys.find((k) => k.keyid === identity.keyid);
    const publicKey = key ? fromBase64(key.publicKey) : undefined;
    if (!publicKey) throw new CliError(`${base}: the identity document lists no public key for ${identity.keyid}`, EXIT.rejected);
    if (!identity.document.log) throw new CliError(`${base} has no transparency log (its identity document names none)`, EXIT.rejected);
    const history = identity.chain ? rootOf(identity.chain, identity.keyid) : identity.keyid;
    const otherKeys = listedKeys(identity.document).filter((k) => k.keyid !== identity.keyid);
    const made = await LogReader.create({
      base,
      registryOrigin: identity.document.origin,
      publicKey,
      otherKeys,
      token: given === undefined || registryBase(given) === registryBase(rule.url) ? process.env.COUNTERSIGN_TOKEN : undefined,
      witnesses: await witnessVerifiers(rule.witnesses),
      quorum: rule.witnesses?.quorum ?? 0,
    });
    if (!made.ok) throw new CliError(`${base}: ${made.error}`, EXIT.rejected);
    const reader = made.value;

    // The view: consistent with what was seen before, then stored.
    const { head } = await advanceView(reader, history, checkpointStore());
    const checkpoint = head.checkpoint;
    const stored = readMonitorPosition(history, namespace);
    const start = from ?? stored?.next ?? 0;
    if (from !== undefined && from > checkpoint.size) throw usageError(`--from ${from} is beyond the log's size ${checkpoint.size}`, { command: this.name, usage: this.usage });
    const begin = Math.min(start, checkpoint.size);

    // The entries, proved to be the signed tree.
    const frontier = new Frontier(begin, await reader.frontier(begin, checkpoint.size));
    const publications: Publication[] = [];
    const statements: KeyEvent[] = [];
    const metadata: MetadataChange[] = [];
    const firstBundle = Math.floor(begin / TILE_WIDTH);
    const bundles = Math.ceil(checkpoint.size / TILE_WIDTH);
    const pending = new Map<number, Promise<Uint8Array[]>>();
    const fetchBundle = (n: number) => {
      if (n < bundles && !pending.has(n)) {
        const p = reader.readEntries(n, checkpoint.size);
        p.catch(() => undefined);
        pending.set(n, p);
      }
    };
    for (let n = firstBundle; n < bundles; n++) {
      for (let ahead = n; ahead <= n + AHEAD; ahead++) fetchBundle(ahead);
      const entries = await pending.get(n)!;
      pending.delete(n);
      for (let k = 0; k < entries.length; k++) {
        const index = n * TILE_WIDTH + k;
        if (index < begin) continue;
        await frontier.append(leafHashSync(entries[k]!));
        const parsed = parseLogEntry(entries[k]!, index);
        if (!parsed.ok) throw entryError(reader.host, parsed.error, checkpoint.size);
        const entry: LogEntry = parsed.value;
        if (entry.kind === "countersignature" && entry.namespace === namespace) {
          publications.push({ index, name: entry.name, version: entry.version, publishedAt: entry.publishedAt, publisher: entry.publisherKeyid, registryKey: entry.registryKeyid, sha512: entry.sha512 });
        } else if (entry.kind === "statement" && entry.statement.namespace === namespace) {
          statements.push(keyEvent(entry.statement, index));
        } else if (entry.kind === "metadata" && namespaceOf(entry.record.name) === namespace) {
          metadata.push({ index, ...entry.record });
        } else if (entry.kind === "rotation") {
          // The registry's own key: every namespace's concern.
          statements.push({ index, kind: "registry_key_rotated", at: entry.rotation.at, keyid: entry.rotation.to.keyid, from: entry.rotation.from.keyid });
        }
      }
    }
    const root = await frontier.root();
    if (frontier.size !== checkpoint.size || !equalBytes(root, checkpoint.rootHash)) {
      throw new LogRejection({
        code: "bad_tiles",
        message: `the entries ${reader.host} serves from ${begin} to ${checkpoint.size} are not the tree its checkpoint signs (${describeCheckpoint(checkpoint)}): they hash to root ${toBase64(root)}. Nothing was listed; the log serves tampered entries or tiles`,
        expected: `root ${toBase64(checkpoint.rootHash)}`,
        actual: `root ${toBase64(root)}`,
      });
    }
    writeMonitorPosition(history, namespace, { next: checkpoint.size, checkpoint: { size: checkpoint.size, root: toBase64(checkpoint.rootHash) } });

    const cosignatures = new Set(head.cosignatures.map((sig) => `${sig.name}+${sig.keyHash}`)).size;
    const report: MonitorReport = {
      registry: base,
      namespace,
      origin: reader.origin,
      checkpoint: { size: checkpoint.size, root: toBase64(checkpoint.rootHash), cosignatures },
      from: begin,
      to: checkpoint.size,
      entries: checkpoint.size - begin,
      publications,
      statements,
      metadata,
    };
    const witnessNote = reader.quorum > 0 && cosignatures < reader.quorum ? [`  warning: this checkpoint has ${cosignatures} of the ${reader.quorum} witness cosignatures the pins require: verify will not accept inclusion in it yet`] : [];
    emit(
      values,
      [
        ...listing(publications, statements, metadata),
        `monitor: ${namespace} in ${reader.origin}: ${counted([
          [publications.length, "publication"],
          [statements.length, "key event"],
          [metadata.length, "metadata serial"],
        ])} in entries ${begin}..${checkpoint.size - 1 < begin ? begin : checkpoint.size - 1} (${checkpoint.size - begin} read, verified against the checkpoint of size ${checkpoint.size}, root ${toBase64(checkpoint.rootHash)})`,
        ...witnessNote,
        `  the next run starts at ${checkpoint.size}${from !== undefined ? "" : " (--from INDEX to read again)"}`,
      ],
      report,
    );
    return EXIT.ok;
  },
};

/** "2 publications, 1 key event and 3 metadata serials": the first always, the others when not zero. */
function counted(parts: [number, string][]): string {
  const shown = parts.filter(([n], i) => i === 0 || n > 0).map(([n, what]) => `${n} ${what}${n === 1 ? "" : "s"}`);
  return shown.length > 1 ? `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}` : shown[0]!;
}

function keyEvent(s: RegistryStatement, index: number): KeyEvent {
  if (s.kind === "key_enrolled") return { index, kind: s.kind, at: s.at, keyid: s.key.keyid, label: s.key.label };
  if (s.kind === "key_revoked") return { index, kind: s.kind, at: s.at, keyid: s.keyid, since: s.since };
  return { index, kind: s.kind, at: s.at };
}

/** Publications, key events and metadata serials, one line each, in log order. */
function listing(publications: Publication[], statements: KeyEvent[], metadata: MetadataChange[]): string[] {
  const lines: [number, string][] = [
    ...metadata.map((m): [number, string] => [m.index, `  #${m.index}  metadata      ${m.name} serial ${m.serial}  sha256 ${m.contentSha256}`]),
    ...publications.map((p): [number, string] => [p.index, `  #${p.index}  ${p.name}@${p.version}  ${p.publishedAt}  publisher ${p.publisher}  sha512 ${p.sha512}`]),
    ...statements.map((e): [number, string] => [
      e.index,
      e.kind === "key_enrolled"
        ? `  #${e.index}  key enrolled  ${e.at}  ${e.keyid}${e.label ? ` (${e.label})` : ""}`
        : e.kind === "key_revoked"
          ? `  #${e.index}  key revoked   ${e.at}  ${e.keyid}: its versions from #${e.since} on are void`
          : e.kind === "registry_key_rotated"
            ? `  #${e.index}  REGISTRY KEY ROTATED  ${e.at}  ${e.from} → ${e.keyid}`
            : `  #${e.index}  namespace claimed  ${e.at}`,
    ]),
  ];
  return lines.sort((a, b) => a[0] - b[0]).map(([, line]) => line);
}

function entryError(host: string, reason: string, size: number): CliError {
  return new LogRejection({ code: "bad_tiles", message: `${host} serves a log entry that is not a countersign entry: ${reason} (checkpoint size ${size}); nothing was listed` });
}
