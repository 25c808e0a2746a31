/**
 * @module
 * The Worker's side of the log: a stub of the one sequencer, and what a publish does with it.
 */

import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import type { LatestProofs, Logged, LogStatus } from "./durable.js";

/** What routes and the publish need from the sequencer (tests inject faults through it). */
export interface LogHandle {
  logged(index: number): Promise<Logged>;
  sync(): Promise<LogStatus>;
  /** Tlog-proofs of log indexes against the latest checkpoint (null where it does not cover one). */
  proofs(indexes: number[]): Promise<LatestProofs>;
}

export function durableLog(env: Env): LogHandle {
  const namespace = env.LOG;
  if (!namespace) throw new ApiError(500, "misconfigured", "registry is misconfigured: the LOG Durable Object binding is missing (see wrangler.toml)");
  const stub = namespace.get(namespace.idFromName("log"));
  return {
    logged: async (index) => {
      const { index: at, tlogProof, checkpoint } = await stub.logged(index);
      return { index: at, tlogProof, checkpoint };
    },
    sync: async () => {
      const { size, published, proved } = await stub.sync();
      return { size, published, proved };
    },
    proofs: async (indexes) => {
      const { checkpoint, proofs } = await stub.proofs(indexes);
      return { checkpoint, proofs: [...proofs] };
    },
  };
}
