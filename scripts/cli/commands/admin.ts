/**
 * @module
 * `admin`: the registry's admin API from the command line. The admin token comes from
 * COUNTERSIGN_ADMIN_TOKEN (or --admin-token, which is visible to other local users: avoid it on
 * shared machines).
 */

import { checkNamespace, openRotation, toBase64 } from "../../../src/core/index.js";
import { emit, JSON_OPTION, REGISTRY_OPTION, str, type Command, type Values } from "../command.js";
import { didYouMean } from "../suggest.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase, requestJson } from "../http.js";
import { readKeyFile } from "../keyfile.js";

const USAGE = `countersign admin <command> --registry URL   (admin token: $COUNTERSIGN_ADMIN_TOKEN)
  namespace add <namespace>              create a namespace (@scope, or an unscoped package name)
  namespace list
  key add <namespace> --public-key B64   enrol a publisher key (or --key-file FILE) [--label TEXT]
  key list <namespace>
  key revoke <namespace> <keyid> [--since SEQUENCE|all]
                                         revoke a publisher key (a logged statement); --since also voids the
                                         versions it published from that sequence number on (a stolen key)
  rotate [--compromised-since SEQUENCE]  rotate the registry key to REGISTRY_NEXT_SIGNING_KEY (a logged statement signed by both);
                                         --compromised-since also voids what the old key countersigned from there on
  approval <namespace> on|off            require a second key's approval of every version (publish --stage, approve)
  token create --scope publish --namespace <ns> [--namespace <ns>...] [--label TEXT]
  token create --scope read [--label TEXT]
  token list
  token revoke <token-id>`;

interface Api {
  get<T>(path: string): Promise<T>;
  send<T>(method: string, path: string, body?: unknown): Promise<T>;
}

function api(values: Values): Api {
  const base = `${registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY)}/-/countersign/v1/admin`;
  const token = str(values, "admin-token") ?? process.env.COUNTERSIGN_ADMIN_TOKEN;
  if (!token) throw usageError("no admin token: set COUNTERSIGN_ADMIN_TOKEN (npm start prints the local one)");
  return {
    get: (path) => requestJson(`${base}${path}`, { token }),
    send: (method, path, body) =>
      requestJson(`${base}${path}`, { method, token, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) }),
  };
}

const SUBCOMMANDS = ["rotate", "namespace add", "namespace list", "key add", "key list", "key revoke", "approval", "token create", "token list", "token revoke"];
const usage = (message: string) => usageError(`admin: ${message}`, { command: "admin", usage: USAGE });

/** A namespace argument, checked here so that a mistyped one is a usage error, not a registry refusal. */
const namespaceArg = (namespace: string | undefined): string => {
  if (!namespace) throw usage("a namespace is required");
  const check = checkNamespace(namespace);
  if (!check.ok) throw usage(`${namespace}: ${check.reason}`);
  return namespace;
};
const ns = (namespace: string | undefined) => encodeURIComponent(namespaceArg(namespace));

async function publicKeyArg(values: Values): Promise<string> {
  const given = str(values, "public-key");
  const file = str(values, "key-file");
  if (given && file) throw usageError("pass --public-key or --key-file, not both");
  if (given) return given;
  if (file) return toBase64((await readKeyFile(file)).publicKey);
  throw usageError("--public-key B64 (or --key-file FILE) is required");
}

export const admin: Command = {
  name: "admin",
  summary: "manage namespaces, publisher keys, approval requirements and tokens (admin token required)",
  usage: USAGE,
  options: {
    ...REGISTRY_OPTION,
    "admin-token": { type: "string" },
    "public-key": { type: "string" },
    "key-file": { type: "string" },
    label: { type: "string" },
    since: { type: "string" },
    "compromised-since": { type: "string" },
    scope: { type: "string" },
    namespace: { type: "string", multiple: true },
    ...JSON_OPTION,
  },
  async run(values, positionals) {
    const [group, action, ...rest] = positionals;
    const label = str(values, "label");
    // `approval <namespace> on|off`: the namespace is the second word, not a subcommand.
    // `rotate`: one word; the registry holds both keys (REGISTRY_SIGNING_KEY, REGISTRY_NEXT_SIGNING_KEY).
    if (group === "rotate") {
      if (positionals.length !== 1) throw usage("rotate takes no arguments (the new key is the registry's REGISTRY_NEXT_SIGNING_KEY)");
      return rotate(values);
    }
    if (group === "approval") {
      const setting = rest[0];
      if (rest.length !== 1 || (setting !== "on" && setting !== "off")) throw usage(`approval needs <namespace> on|off${setting ? didYouMean(setting, ["on", "off"]) : ""}`);
      const result = await api(values).send<{ namespace: string; approvalRequired: boolean }>("PUT", `/namespaces/${ns(action)}/approval`, { required: setting === "on" });
      emit(
        values,
        result.approvalRequired
          ? `${result.namespace} now requires a second key's approval: direct publishes are refused; stage with countersign publish --stage, approve with countersign approve --key <second key>`
          : `${result.namespace} no longer requires approval: direct publishes are accepted`,
        result,
      );
      return 0;
    }
    switch (`${group} ${action}`) {
      case "namespace add": {
        const namespace = namespaceArg(rest[0]);
        const result = await api(values).send<{ namespace: string }>("POST", "/namespaces", { namespace });
        emit(values, `namespace ${result.namespace} created`, result);
        return 0;
      }
      case "namespace list": {
        const { namespaces } = await api(values).get<{ namespaces: { namespace: string; activeKeys: number; createdAt: string }[] }>("/namespaces");
        emit(values, namespaces.length ? namespaces.map((n) => `${n.namespace}\t${n.activeKeys} active key(s)\tcreated ${n.createdAt}`) : "no namespaces", { namespaces });
        return 0;
      }
      case "key add": {
        const body = { publicKey: await publicKeyArg(values), ...(label ? { label } : {}) };
        const result = await api(values).send<{ namespace: string; keyid: string }>("POST", `/namespaces/${ns(rest[0])}/keys`, body);
        emit(values, `enrolled ${result.keyid} in ${result.namespace}`, result);
        return 0;
      }
      case "key list": {
        const result = await api(values).get<{ namespace: string; keys: { keyid: string; label: string; createdAt: string; revokedAt: string | null }[] }>(`/namespaces/${ns(rest[0])}/keys`);
        emit(values, result.keys.length ? result.keys.map((k) => `${k.keyid}\t${k.revokedAt ? `revoked ${k.revokedAt}` : "active"}\t${k.label}`) : `no keys in ${result.namespace}`, result);
        return 0;
      }
      case "key revoke": {
        if (!rest[1]) throw usage("key revoke needs <namespace> <keyid>");
        const since = str(values, "since");
        if (since !== undefined && since !== "all" && !/^[1-9][0-9]{0,15}$/.test(since)) throw usage(`--since must be a sequence number (from 1) or "all", not "${since}"`);
        const query = since === undefined ? "" : `?since=${since}`;
        const result = await api(values).send<{ namespace: string; keyid: string; since: number; log: { index: number } }>("DELETE", `/namespaces/${ns(rest[0])}/keys/${encodeURIComponent(rest[1])}${query}`);
        emit(
          values,
          [
            `revoked ${result.keyid} in ${result.namespace} (log entry ${result.log.index})`,
            result.since < result.log.index
              ? `  versions it published from sequence ${result.since} on are void: verify rejects them (publisher_revoked) once consumers' signed metadata is renewed (at most 24 hours)`
              : "  it can publish nothing more; versions it published before stay valid",
          ],
          result,
        );
        return 0;
      }
      case "token create": {
        const scope = str(values, "scope");
        if (scope !== "read" && scope !== "publish") throw usage(`--scope must be read or publish${scope ? didYouMean(scope, ["read", "publish"]) : ""}`);
        const namespaces = (values.namespace as string[] | undefined) ?? [];
        const result = await api(values).send<{ id: string; token: string }>("POST", "/tokens", { scope, ...(namespaces.length ? { namespaces } : {}), ...(label ? { label } : {}) });
        emit(values, [`token ${result.id} (${scope}${namespaces.length ? ` in ${namespaces.join(", ")}` : ""}):`, result.token, "store it now: it is not shown again"], result);
        return 0;
      }
      case "token list": {
        const { tokens } = await api(values).get<{ tokens: { id: string; scope: string; namespaces: string[]; label: string; revokedAt: string | null }[] }>("/tokens");
        emit(values, tokens.length ? tokens.map((t) => `${t.id}\t${t.scope}\t${t.namespaces.join(",") || "-"}\t${t.revokedAt ? "revoked" : "active"}\t${t.label}`) : "no tokens", { tokens });
        return 0;
      }
      case "token revoke": {
        if (!rest[0]) throw usage("token revoke needs <token-id>");
        const result = await api(values).send<{ id: string }>("DELETE", `/tokens/${encodeURIComponent(rest[0])}`);
        emit(values, `revoked token ${result.id}`, result);
        return 0;
      }
      default: {
        const given = positionals.slice(0, 2).join(" ");
        throw usage(given ? `unknown command "${given}"${didYouMean(given, SUBCOMMANDS)}` : `which command? (${SUBCOMMANDS.join(", ")})`);
      }
    }
  },
};

/**
 * `admin rotate`: asks the registry to log the rotation from its key to REGISTRY_NEXT_SIGNING_KEY
 * (PROTOCOL §21), checks that the answer is a rotation both keys signed, and says how to end the
 * overlap. Run again, it shows the rotation already logged.
 */
async function rotate(values: Values): Promise<number> {
  const compromised = str(values, "compromised-since");
  if (compromised !== undefined && !/^[1-9][0-9]{0,15}$/.test(compromised)) throw usage(`--compromised-since must be a sequence number (from 1), not "${compromised}"`);
  const body = compromised === undefined ? undefined : { compromisedSince: Number(compromised) };
  const result = await api(values).send<{ rotated: boolean; from: string; to: string; statement: unknown; log: { index: number; tlogProof?: string; pending?: boolean } }>("POST", "/rotate", body);
  const opened = await openRotation(result.statement);
  if (!opened.ok) throw new CliError(`the registry answered with a rotation that does not verify: ${opened.error}`, EXIT.rejected);
  if (opened.value.from.keyid !== result.from || opened.value.to.keyid !== result.to || opened.value.sequence !== result.log.index) {
    throw new CliError("the registry's answer does not match the rotation statement it carries", EXIT.rejected);
  }
  emit(
    values,
    [
      `rotated the registry key: ${result.from} → ${result.to}, log entry ${result.log.index}${result.log.pending ? " (its checkpoint is pending)" : ""}`,
      opened.value.compromisedSince !== undefined
        ? `  the registry signs with ${result.to} from now on; ${result.from} is declared compromised: what it countersigned from entry ${opened.value.compromisedSince} on is void`
        : `  the registry signs with ${result.to} from now on; ${result.from} stays valid for what it countersigned before entry ${result.log.index}`,
      "  end the overlap: make the new key the registry's key, then remove the old one:",
      "    wrangler secret put REGISTRY_SIGNING_KEY        # the new key's seed (what REGISTRY_NEXT_SIGNING_KEY holds)",
      "    wrangler secret delete REGISTRY_NEXT_SIGNING_KEY",
      "    (npm start: move the value in .dev.vars the same way, then restart)",
      "  consumers follow on their next countersign verify, which updates countersign.json (commit it)",
    ],
    result,
  );
  return 0;
}

