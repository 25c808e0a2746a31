/** @module Constants of the npm registry protocol shared by the Worker and the client. */

/** The media type of npm's abbreviated ("corgi") packument, what installers ask for. */
export const ABBREVIATED_TYPE = "application/vnd.npm.install-v1+json";
