/**
 * @module
 * One pump, several consumers: how a publish reads the artifact once and feeds the store, the
 * hasher and the package inspector.
 *
 * `tee()` is not enough here: a branch that stops reading without cancelling (a store that fails
 * part-way) holds the others back for ever, and a failure in one branch never reaches the rest.
 * Here each chunk goes to every consumer's own stream, at the pace of the slowest (bounded
 * buffering), and the first failure stops everything: the other streams are aborted and the source
 * is cancelled, so every consumer settles and the caller can answer. A consumer that is done early
 * on purpose (it cancels its stream, as the inspector does with bytes that are not a package)
 * simply stops receiving; its promise says how it ended.
 */

export type Consumer<T> = (stream: ReadableStream<Uint8Array>) => Promise<T>;

/** What stopped the pump before every byte was delivered, if anything did. */
export type FanOutFailure = { from: "source"; reason: unknown } | { from: "consumer"; index: number; reason: unknown };

export interface FanOut<T extends unknown[]> {
  /** The first failure (which caused any others), or null: the source was read to its end. */
  failure: FanOutFailure | null;
  results: { [K in keyof T]: PromiseSettledResult<T[K]> };
}

/** Chunks a consumer's stream may hold before the pump waits for it. */
const BUFFERED_CHUNKS = 4;

export async function fanOut<T extends unknown[]>(source: ReadableStream<Uint8Array>, consumers: { [K in keyof T]: Consumer<T[K]> }): Promise<FanOut<T>> {
  const list = consumers as unknown as Consumer<unknown>[];
  const streams = list.map(() => new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, { highWaterMark: BUFFERED_CHUNKS }));
  const writers = streams.map((s) => s.writable.getWriter());
  const open = writers.map(() => true);
  const reader = source.getReader();
  let failure: FanOutFailure | null = null;
  let delivered = false;

  const stop = (why: FanOutFailure) => {
    // After the last chunk was handed over, a failure (R2 refusing the digest at the end) must
    // not destroy what the others still hold: they finish on their own.
    if (failure || delivered) return;
    failure = why;
    writers.forEach((writer, i) => {
      if (!open[i]) return;
      open[i] = false;
      writer.abort(why.reason).catch(() => undefined);
    });
    reader.cancel(why.reason).catch(() => undefined);
  };

  const results = list.map((consume, index) =>
    Promise.resolve()
      .then(() => consume(streams[index]!.readable))
      .then(
        (value) => {
          // Done without reading to the end (and without cancelling): send it nothing more.
          if (open[index]) {
            open[index] = false;
            writers[index]!.abort().catch(() => undefined);
          }
          return value;
        },
        (reason: unknown) => {
          stop({ from: "consumer", index, reason });
          throw reason;
        },
      ),
  );

  const pump = async () => {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (reason) {
        stop({ from: "source", reason });
        return;
      }
      if (failure) return;
      if (chunk.done) break;
      const { value } = chunk;
      await Promise.all(
        writers.map(async (writer, i) => {
          if (!open[i]) return;
          try {
            await writer.write(value);
          } catch {
            // The consumer cancelled its stream (or `stop` aborted it): it gets nothing more.
            open[i] = false;
          }
        }),
      );
      if (failure) return;
      if (!open.includes(true)) {
        // Nobody wants the rest.
        await reader.cancel().catch(() => undefined);
        return;
      }
    }
    delivered = true;
    await Promise.all(writers.map((writer, i) => (open[i] ? writer.close().catch(() => undefined) : undefined)));
  };

  const [settled] = await Promise.all([Promise.allSettled(results), pump()]);
  return { failure, results: settled as FanOut<T>["results"] };
}
