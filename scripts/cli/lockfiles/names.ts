/**
 * @module
 * Package names as lockfiles spell them: `name@version` ids and install paths
 * (`node_modules/a/node_modules/@acme/utils`, bun's `a/@acme/utils`). The name an entry is
 * installed as is what `require()` finds it by, so it comes from the path's last segment(s),
 * never from a `name` field that may say something else. A path whose last segment is not a
 * package name is refused rather than guessed at.
 */

/** Loose on purpose (legacy names have capitals), strict on shape: `name` or `@scope/name`. */
const PACKAGE_NAME = /^(?:@[a-z0-9~][\w.~-]*\/)?[a-z0-9~][\w.~-]*$/i;

export const isPackageName = (name: string): boolean => PACKAGE_NAME.test(name);

/** `@acme/utils@1.0.0` → `{ name: "@acme/utils", rest: "1.0.0" }`; undefined without a name and an `@`. */
export function splitAtName(id: string): { name: string; rest: string } | undefined {
  const at = id.indexOf("@", id.startsWith("@") ? id.indexOf("/") + 1 : 0);
  if (at <= 0) return undefined;
  const name = id.slice(0, at);
  return isPackageName(name) ? { name, rest: id.slice(at + 1) } : undefined;
}

/** The last package of a `/`-separated chain of names: `a/@acme/utils` → `@acme/utils`. */
export function lastPackageOf(path: string): string | undefined {
  const segments = path.split("/");
  const last = segments.at(-1) ?? "";
  const beforeLast = segments.at(-2);
  const name = beforeLast?.startsWith("@") ? `${beforeLast}/${last}` : last;
  return isPackageName(name) ? name : undefined;
}

/** The name npm installs a `node_modules/…` key under: what follows its last `node_modules/`. */
export function installedNameOfNpmPath(key: string): string | undefined {
  const marker = "node_modules/";
  const at = key.lastIndexOf(marker);
  if (at < 0 || (at > 0 && key[at - 1] !== "/")) return undefined;
  const name = key.slice(at + marker.length);
  return isPackageName(name) ? name : undefined;
}

