/** @module The client's version, put in by the build (scripts/build.mjs) from package.json. */

declare const __COUNTERSIGN_VERSION__: string | undefined;

export const VERSION: string = typeof __COUNTERSIGN_VERSION__ === "string" ? __COUNTERSIGN_VERSION__ : "0.0.0-dev";
