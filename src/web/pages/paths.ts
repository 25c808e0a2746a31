/** @module The web UI's own URLs. Names go in as npm writes them (`@scope/name`), each segment escaped. */

/** `/package/<name>` or `/package/<name>/v/<version>`, as on npmjs.com. */
export function packagePath(name: string, version?: string): string {
  const path = `/package/${name.split("/").map((part) => encodeURIComponent(part).replace(/^%40/, "@")).join("/")}`;
  return version === undefined ? path : `${path}/v/${encodeURIComponent(version)}`;
}
