/** @module Typed results: failures are values, not thrown strings. */

export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** A value now or later: fast paths answer synchronously when they can, and `await` takes both. */
export type MaybePromise<T> = T | Promise<T>;
