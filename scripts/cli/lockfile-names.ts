/**
 * The lockfiles countersign reads, in the order it reads them (kept apart from the parsers, and
 * free of dependencies, so the runtime hook stays small). npm uses npm-shrinkwrap.json instead of
 * package-lock.json when both exist; bun.lockb (bun's binary format) is listed so that its
 * presence is noticed: it cannot be verified.
 */
export const LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "bun.lockb"] as const;
