/**
 * @module
 * The one-line reasons npm prints for the features countersign does not have (npm/unsupported.ts
 * serves them). No imports: the end-to-end tests read them too, outside the Worker's types.
 */

const HOW_TO_PUBLISH = "publishing needs a publisher key enrolled in the package's namespace and a publish token for it, both issued by the registry's operators (countersign admin)";

export const UNSUPPORTED_MESSAGES = {
  stars: "countersign registries do not support stars: there are no user accounts to star with (nothing was changed)",
  accounts: "countersign registries have no user accounts: authenticate with a token in .npmrc (//<host>/:_authToken=…) issued by the registry's operators; package owners are the publisher keys enrolled in the namespace (npm owner ls lists them)",
  profile: "countersign registries have no user profiles: a token, not an account, authenticates here (npm whoami names it, npm token list lists it)",
  teams: `countersign registries have no teams: ${HOW_TO_PUBLISH}`,
  orgs: `countersign registries have no organizations: a scope is a namespace, and ${HOW_TO_PUBLISH}`,
  access: `countersign registries have no per-package access settings: every package can be read by whoever may read the registry, and ${HOW_TO_PUBLISH}`,
  hooks: "countersign registries do not support hooks: every publish is in the registry's transparency log (/-/countersign/v1/log/), which can be followed instead",
  trust: "countersign registries do not support trusted publishing (OIDC): packages are signed by a publisher key enrolled in the namespace (countersign publish)",
  stage: "countersign registries do not support staged publishing: packages are signed by a publisher key enrolled in the namespace (countersign publish)",
  owners: "countersign registries do not change owners through npm: package owners are the publisher keys enrolled in the namespace, managed by the registry's operators (countersign admin); npm owner ls lists them",
} as const;
