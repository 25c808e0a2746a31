/** @module The registry's home page: its identity (what to pin), its namespaces, the latest publications. */

import type { NamespaceRow, RecentPublication } from "../../worker/storage/meta.js";
import { CopyButton, Head, Layout, Time, type Site } from "./layout.js";
import { packagePath } from "./paths.js";

export function HomePage(props: { site: Site; fingerprint: string; identityUrl: string; logUrl: string; namespaces: NamespaceRow[]; recent: RecentPublication[] }) {
  const { site } = props;
  const pin = `countersign pin ${site.origin} --name ${slug(site.name)} --namespace <@scope> --fingerprint ${props.fingerprint}`;
  return (
    <Layout site={site} title="Home" description={`${site.name}: a countersign package registry`}>
      <h1>{site.name}</h1>
      <p class="muted">
        A package registry whose every version is publisher-signed, countersigned by this registry's key, and recorded in a public transparency log.
      </p>
      <section aria-labelledby="identity-heading">
        <h2 id="identity-heading">Identity</h2>
        <p>
          Consumers pin this registry by its key's fingerprint. Compare it with the one your team published out of band before you pin it.
        </p>
        <div class="fingerprint">
          <code id="registry-fingerprint">{props.fingerprint}</code>
          <CopyButton value={props.fingerprint} label="Copy the registry fingerprint" />
        </div>
        <dl class="facts">
          <dt>Origin</dt>
          <dd class="mono">{site.origin}</dd>
          <dt>Signed identity</dt>
          <dd>
            <a href={props.identityUrl}>{props.identityUrl}</a>
          </dd>
          <dt>Transparency log</dt>
          <dd>
            <a href={`${props.logUrl}checkpoint`}>{props.logUrl}</a>
          </dd>
        </dl>
        <h3>Pin it</h3>
        <pre>
          <code>{pin}</code>
        </pre>
      </section>
      <section aria-labelledby="namespaces-heading">
        <h2 id="namespaces-heading">Namespaces</h2>
        {props.namespaces.length === 0 ? (
          <p class="muted">No namespaces yet.</p>
        ) : (
          <table>
            <Head columns={["Namespace", "Enrolled publisher keys", "Created"]} />
            <tbody>
              {props.namespaces.map((n) => (
                <tr>
                  <td>
                    <a href={`/search?q=${encodeURIComponent(n.namespace.startsWith("@") ? `${n.namespace}/` : n.namespace)}`}>{n.namespace}</a>
                  </td>
                  <td>{n.activeKeys}</td>
                  <td>
                    <Time at={n.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="recent-heading">
        <h2 id="recent-heading">Recent publications</h2>
        {props.recent.length === 0 ? (
          <p class="muted">Nothing published yet.</p>
        ) : (
          <table>
            <Head columns={["#", "Package", "Publisher key", "Published"]} />
            <tbody>
              {props.recent.map((r) => (
                <tr>
                  <td>{r.sequence}</td>
                  <td>
                    <a href={packagePath(r.name, r.version)}>
                      {r.name}@{r.version}
                    </a>
                    {r.description ? <div class="muted">{r.description}</div> : null}
                  </td>
                  <td>
                    {r.publisherLabel ? <div>{r.publisherLabel}</div> : null}
                    <code>{r.publisherKeyid}</code>
                  </td>
                  <td>
                    <Time at={r.publishedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Layout>
  );
}

/** A pins-file name from the registry's name: what `pin --name` accepts. */
function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "team";
}
