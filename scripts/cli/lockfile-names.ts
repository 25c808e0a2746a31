/** The lockfiles countersign reads (kept apart from the parsers so the runtime hook stays small). */
export const LOCKFILES = ["package-lock.json", "pnpm-lock.yaml"] as const;
