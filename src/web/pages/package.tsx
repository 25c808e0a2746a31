/**
 * @module
 * A package's page: what npmjs.com shows (README, versions, dist-tags, install snippets), and for
 * the version shown, its whole provenance chain with the facts the server read. Each link of the
 * chain starts `pending`; the browser script (src/web/browser) checks it against the fingerprint
 * in use and sets its status (contract: src/web/checks.ts). Every string here is the publisher's
 * or the registry's data and is escaped by JSX; only the README's rendered HTML (markdown.ts) is
 * inserted as HTML.
 */

import type { Child } from "hono/jsx";
import { CHAIN, CHECK_TITLES, DOM, STATUS_LABELS, type CheckId } from "../checks.js";
import type { ChainFacts } from "../chain.js";
import { CopyButton, Head, Layout, Time, type Site } from "./layout.js";
import { packageLinks } from "../../worker/npm/links.js";
import { packagePath } from "./paths.js";

/** A file list longer than this is checked in full by the browser but listed only in part. */
export const MAX_LISTED_FILES = 500;

export interface VersionSummary {
  version: string;
  sequence: number;
  publishedAt: string;
  deprecated: string | null;
  publisherKeyid: string;
  publisherLabel: string | null;
}

export interface PackagePageProps {
  site: Site;
  name: string;
  namespace: string;
  fingerprint: string;
  versions: VersionSummary[];
  tags: Record<string, string>;
  /** The version shown: the one asked for, else `latest`, else the newest. */
  shown: VersionSummary;
  manifest: Record<string, unknown> | null;
  chain: ChainFacts;
  readme: { version: string; html: string } | null;
  maintainers: { keyid: string; label: string }[];
  /** URL paths the browser script fetches. */
  paths: { bundle: string; artifact: string; reviews: string; packumentVersion: string | null };
}

export function PackagePage(props: PackagePageProps) {
  const { site, name, shown, manifest } = props;
  const description = typeof manifest?.description === "string" ? manifest.description : undefined;
  const isLatest = props.tags.latest === shown.version;
  return (
    <Layout site={site} title={`${name}@${shown.version}`} description={description}>
      <div class="layout">
        <div>
          <h1>{name}</h1>
          <p>
            <span class="mono">{shown.version}</span> {isLatest ? <span class="badge">latest</span> : null} · published <Time at={shown.publishedAt} /> · namespace{" "}
            <span class="mono">{props.namespace}</span>
            {props.chain.ai ? (
              <>
                {" "}
                · <span class="badge">AI: {props.chain.ai.contribution}</span>
              </>
            ) : null}
          </p>
          {description ? <p>{description}</p> : null}
          {shown.deprecated ? (
            <p class="banner" role="note">
              <strong>Deprecated:</strong> {shown.deprecated}
            </p>
          ) : null}
          <Provenance {...props} />
          <section aria-labelledby="readme-heading">
            <h2 id="readme-heading">README</h2>
            {props.readme ? (
              <>
                {props.readme.version !== shown.version ? <p class="muted">From version {props.readme.version}, the one latest points at.</p> : null}
                <article class="readme" dangerouslySetInnerHTML={{ __html: props.readme.html }} />
              </>
            ) : (
              <p class="muted">This package has no README.</p>
            )}
          </section>
          <Versions {...props} />
        </div>
        <Sidebar {...props} />
      </div>
    </Layout>
  );
}

function Provenance(props: PackagePageProps) {
  const { chain, shown, name } = props;
  return (
    <section
      aria-labelledby="provenance-heading"
      id={DOM.section}
      data-name={name}
      data-version={shown.version}
      data-fingerprint={props.fingerprint}
      data-bundle={props.paths.bundle}
      data-artifact={props.paths.artifact}
      data-reviews={props.paths.reviews}
      data-packument-version={props.paths.packumentVersion ?? undefined}
    >
      <h2 id="provenance-heading">Provenance of {shown.version}</h2>
      <p id={DOM.checkedAgainst}>
        Your browser checks each link below against this registry's key <code>{props.fingerprint}</code>, the fingerprint this page was loaded with. To check against the
        fingerprint your team pinned, paste it here.
      </p>
      <form id={DOM.pinForm} class="pin-form">
        <label for={DOM.pinInput}>Pinned fingerprint</label>
        <input id={DOM.pinInput} type="text" name="fingerprint" placeholder="SHA256:…" spellcheck={false} autocomplete="off" />
        <button type="submit">Check against it</button>
      </form>
      <noscript>
        <p class="banner">JavaScript is off: nothing below was checked in your browser. The statuses are what the registry checked when it made this page.</p>
      </noscript>
      {chain.problem ? (
        <p class="banner" role="alert">
          The registry's own check of this version fails at the {chain.problem.layer} layer: {chain.problem.message}
        </p>
      ) : null}
      <ol class="chain">
        {CHAIN.map((id) => (
          <Link id={id} facts={linkFacts(id, props)} />
        ))}
      </ol>
    </section>
  );
}

function Link(props: { id: CheckId; facts: Child }) {
  return (
    <li data-check={props.id} data-status="pending">
      <header>
        <h3>{CHECK_TITLES[props.id]}</h3>
        <p class="status" aria-live="polite">
          {STATUS_LABELS.pending}
        </p>
      </header>
      <p class="detail"></p>
      {props.facts}
    </li>
  );
}

function Facts(props: { rows: [string, Child][] }) {
  return (
    <dl class="facts">
      {props.rows.map(([term, value]) => (
        <>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </>
      ))}
    </dl>
  );
}

const code = (text: string) => <code>{text}</code>;

/** What the server read for each link, shown whatever the browser finds. */
function linkFacts(id: CheckId, props: PackagePageProps): Child {
  const { chain, site } = props;
  switch (id) {
    case "identity":
      return (
        <Facts
          rows={[
            ["Registry", site.name],
            ["Origin", code(site.origin)],
            ["Key", <span class="fingerprint">{code(props.fingerprint)} <CopyButton value={props.fingerprint} label="Copy the registry fingerprint" /></span>],
          ]}
        />
      );
    case "publisher":
      return chain.publisher ? (
        <Facts
          rows={[
            ["Key", code(chain.publisher.keyid)],
            ...(chain.publisher.label ? ([["Label", chain.publisher.label]] as [string, Child][]) : []),
            ["Signed", <Time at={chain.publisher.createdAt} />],
            ...(chain.publisher.approval
              ? ([
                  ["Approved by", code(chain.publisher.approval.keyid)],
                  ["Approved", <Time at={chain.publisher.approval.approvedAt} />],
                ] as [string, Child][])
              : []),
          ]}
        />
      ) : null;
    case "countersignature":
      return chain.countersignature ? (
        <Facts
          rows={[
            ["Registry key", code(chain.countersignature.keyid)],
            ["Publication", `#${chain.countersignature.sequence}`],
            ["Published", <Time at={chain.countersignature.publishedAt} />],
            ["Origin", code(chain.countersignature.origin)],
          ]}
        />
      ) : null;
    case "log":
      if (!chain.log) return <p class="muted">Not yet in a published checkpoint: the next log round proves it.</p>;
      if (chain.log.problem) return <p class="muted">The registry could not check its proof: {chain.log.problem}</p>;
      return (
        <Facts
          rows={[
            ["Entry", `#${chain.log.index}`],
            ["Checkpoint", `tree of ${chain.log.treeSize} entries`],
            ["Root hash", code(chain.log.rootHash)],
            ["Witness cosignatures", String(chain.log.cosignatures)],
          ]}
        />
      );
    case "artifact":
      return (
        <Facts
          rows={[
            ["Size", `${chain.artifact.size.toLocaleString("en")} bytes`],
            ["Integrity", code(chain.artifact.integrity)],
            ["sha256", code(chain.artifact.sha256)],
          ]}
        />
      );
    case "files":
      return chain.files ? <FileList files={chain.files} /> : null;
    case "ai":
      return chain.ai ? (
        <Facts
          rows={[
            ["Contribution", chain.ai.contribution],
            ["Tools", chain.ai.tools.map((t) => [t.name, t.version, t.provider && `(${t.provider})`].filter(Boolean).join(" ")).join(", ") || "none named"],
            ["Models", chain.ai.models.map((m) => [m.name, m.version, m.provider && `(${m.provider})`].filter(Boolean).join(" ")).join(", ") || "none named"],
            ...(chain.ai.files ? ([["Files", `${chain.ai.files.length} listed`]] as [string, Child][]) : []),
            ...(chain.ai.session ? ([["Session commitment", code(`sha256:${chain.ai.session.sha256}`)]] as [string, Child][]) : []),
          ]}
        />
      ) : null;
    case "reviews":
      return chain.reviews.length ? (
        <ul>
          {chain.reviews.map((r) =>
            r.problem ? (
              <li>A review that does not verify: {r.problem}</li>
            ) : (
              <li>
                <strong>{r.verdict}</strong> by {code(r.keyid ?? "")} on <Time at={r.reviewedAt ?? ""} />
                {r.note ? <>: {r.note}</> : null}
              </li>
            ),
          )}
        </ul>
      ) : null;
    case "npm-signature":
      return chain.npmSignature ? <Facts rows={[["Key", code(chain.npmSignature.keyid)]]} /> : null;
  }
}

function FileList(props: { files: NonNullable<ChainFacts["files"]> }) {
  const listed = props.files.slice(0, MAX_LISTED_FILES);
  return (
    <details>
      <summary>
        {props.files.length} signed file{props.files.length === 1 ? "" : "s"}
      </summary>
      <table>
        <Head columns={["Path", "Size", "sha256", "Status"]} />
        <tbody>
          {listed.map((f) => (
            <tr data-file={f.path} data-status="pending">
              <td class="mono">{f.path}</td>
              <td>{"link" in f ? `link → ${f.link}` : f.size}</td>
              <td class="mono">{"sha256" in f ? f.sha256 : ""}</td>
              <td class="file-status">{STATUS_LABELS.pending}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.files.length > listed.length ? <p class="muted">{props.files.length - listed.length} more files are checked but not listed.</p> : null}
    </details>
  );
}

function Versions(props: PackagePageProps) {
  const tagsOf = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(props.tags)) tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
  return (
    <section aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions ({props.versions.length})</h2>
      <table>
        <Head columns={["Version", "Tags", "Publication", "Published", "Publisher key"]} />
        <tbody>
          {[...props.versions].reverse().map((v) => (
            <tr aria-current={v.version === props.shown.version ? "page" : undefined}>
              <td>
                <a href={packagePath(props.name, v.version)}>{v.version}</a>
                {v.deprecated ? <span class="badge">deprecated</span> : null}
              </td>
              <td>{(tagsOf.get(v.version) ?? []).join(", ")}</td>
              <td>#{v.sequence}</td>
              <td>
                <Time at={v.publishedAt} />
              </td>
              <td>{v.publisherLabel || <code>{v.publisherKeyid}</code>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Sidebar(props: PackagePageProps) {
  const { site, name, namespace, manifest } = props;
  const scoped = namespace.startsWith("@");
  const spec = props.tags.latest === props.shown.version ? name : `${name}@${props.shown.version}`;
  const host = site.origin.replace(/^https?:/, "");
  const found = manifest ? packageLinks(manifest) : {};
  const links = (
    [
      ["Homepage", found.homepage],
      ["Repository", found.repository],
      ["Issues", found.bugs],
    ] as [string, string | undefined][]
  ).filter((l): l is [string, string] => l[1] !== undefined);
  const license = typeof manifest?.license === "string" ? manifest.license : null;
  return (
    <aside aria-label="Package details">
      <section>
        <h2>Install</h2>
        <div class="snippets">
          <Snippet caption="npm" text={`npm install ${spec}`} />
          <Snippet caption="pnpm" text={`pnpm add ${spec}`} />
          <Snippet caption="yarn" text={`yarn add ${spec}`} />
          <Snippet caption="bun" text={`bun add ${spec}`} />
        </div>
      </section>
      <section>
        <h2>Route the {scoped ? "scope" : "package"} here</h2>
        <Snippet caption=".npmrc (npm, pnpm, yarn 1, bun)" text={scoped ? `${namespace}:registry=${site.origin}/` : `registry=${site.origin}/`} />
        {scoped ? <Snippet caption=".yarnrc.yml (yarn 2+)" text={`npmScopes:\n  ${namespace.slice(1)}:\n    npmRegistryServer: "${site.origin}"`} /> : null}
        {site.private ? <Snippet caption=".npmrc: the read token" text={`${host}/:_authToken=\${COUNTERSIGN_TOKEN}`} /> : null}
      </section>
      <section>
        <h2>Pin it</h2>
        <Snippet caption="countersign" text={`countersign pin ${site.origin} --name <name> --namespace ${namespace} --fingerprint ${props.fingerprint}`} />
        <Snippet caption="then, in the project" text={`countersign add ${spec}`} />
      </section>
      {license ? (
        <section>
          <h2>License</h2>
          <p>{license}</p>
        </section>
      ) : null}
      {links.length ? (
        <section>
          <h2>Links</h2>
          <ul>
            {links.map(([label, url]) => (
              <li>
                <a href={url} rel="nofollow noopener noreferrer ugc">
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h2>Publisher keys enrolled for {namespace}</h2>
        {props.maintainers.length ? (
          <ul>
            {props.maintainers.map((m) => (
              <li>
                {m.label ? <div>{m.label}</div> : null}
                <code>{m.keyid}</code>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">None active.</p>
        )}
      </section>
    </aside>
  );
}

function Snippet(props: { caption: string; text: string }) {
  return (
    <figure>
      <figcaption>{props.caption}</figcaption>
      <pre>
        <code>{props.text}</code>
      </pre>
    </figure>
  );
}
