/** @module The witness Worker's bindings, secret and variables (witness.wrangler.toml, `wrangler secret put`). */

export interface WitnessEnv {
  /** D1: the latest cosigned checkpoint of each log (migrations-witness/). */
  DB: D1Database;
  /** Secret: base64 of the witness's 32-byte Ed25519 seed. */
  WITNESS_SIGNING_KEY?: string;
  /** The witness's key name, e.g. `witness.example.com`: the name on every cosignature line. */
  WITNESS_NAME?: string;
  /**
   * The logs this witness cosigns: note verifier keys (`<origin>+<hex8>+<base64(0x01 ‖ key)>`),
   * separated by newlines or commas. A key's name is the log's origin line; several keys may
   * name the same origin (a log rotating its key). Lines starting with `#` are comments.
   */
  WITNESS_LOGS?: string;
}
