/**
 * @module
 * countersign's protocol core: one implementation of "what is signed" and "what verifies",
 * shared by the Worker and the client. Runtime-agnostic: Web standards only.
 */

export * from "./approval.js";
export * from "./attributes.js";
export * from "./bytes.js";
export * from "./digest.js";
export * from "./dsse.js";
export * from "./identity.js";
export * from "./keys.js";
export * from "./names.js";
export * from "./package.js";
export * from "./pins.js";
export * from "./policy.js";
export * from "./receipt.js";
export * from "./result.js";
export * from "./review.js";
export * from "./schema.js";
export * from "./signature.js";
export * from "./statement.js";
export * from "./upload.js";
export * from "./verify.js";
export * from "./npm-protocol.js";
export * from "./signed.js";
export * from "./note/index.js";
export * from "./tlog/index.js";
export * from "./tlog-proof.js";
export * from "./log.js";
export * from "./npm-signatures.js";
export * from "./package-metadata.js";
export * from "./registry-statement.js";
export * from "./rotation.js";
