/**
 * @module
 * One lockfile entry, as every reader reports it: what a package manager will put on disk, under
 * which names Node will find it, and where its bytes come from. The verifier judges an entry by
 * the namespace of every name it is installed as *and* of its package name, so readers report
 * both and never drop an entry: an entry kind a reader does not understand is an error.
 */

/** Which tool wrote the lockfile (and so how it installs). */
export type Manager = "npm" | "pnpm" | "yarn-classic" | "yarn-berry" | "bun";

/** How an entry's code reaches the disk. Only "registry" can carry a countersignature. */
export type SourceKind =
  /** A tarball from a package registry, by name@version. */
  | "registry"
  /** Inside another package's tarball (npm bundleDependencies): its bytes are the parent's. */
  | "bundled"
  /** A symlink to a directory (npm `link: true`, pnpm/yarn/bun `link:`, yarn `portal:`). */
  | "link"
  /** A copy of a local directory (`file:dir`). */
  | "directory"
  /** A tarball from a URL or a local file that is not a registry name@version. */
  | "tarball"
  /** A git repository (`git+…`, `github:…`). */
  | "git"
  /** One of the project's own workspaces. */
  | "workspace"
  /** A registry package changed by a patch (yarn `patch:`, pnpm `patchedDependencies`). */
  | "patch";

export interface LockEntry {
  /** Absolute path of the lockfile (or package.json) the entry comes from. */
  lockfile: string;
  manager: Manager;
  /** Where it is in the lockfile, for messages: the package-lock key, the yarn descriptor, … */
  location: string;
  /** Every name Node's resolution finds this entry by (an alias's name, not the real one). At least one. */
  installedAs: string[];
  kind: SourceKind;
  /** The package's name as its source knows it (the registry name for "registry"). */
  name: string;
  version: string;
  /** SRI string as written (may list several algorithms). */
  integrity?: string;
  /**
   * False when `integrity` is not a digest of the registry tarball (yarn berry's checksum is of
   * its own zip): the verifier must fetch the tarball and hash it itself.
   */
  integrityOfTarball: boolean;
  /** The tarball URL, local path or git URL, when the lockfile records one. */
  resolved?: string;
  /** The registry the lockfile says it came from (bun records one per entry; "" there is the default). */
  registry?: string;
}
