/**
 * @module
 * Request bodies the Worker does not need are read to the end (up to a bound) rather than left
 * unread: a client still sending when the answer comes back would otherwise see its connection
 * reset, and on a kept-alive connection so would the next request sent on it. Past the bound
 * (or the time limit) the body is cancelled: a client sending that much to a refusal pays for it.
 */

/** How much of an unwanted body is read and thrown away. */
export const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 5_000;

/** Reads and discards the rest of `reader`, up to `budget` bytes and DRAIN_MS; then cancels. */
export async function drainReader(reader: ReadableStreamDefaultReader<Uint8Array>, budget = DRAIN_BYTES): Promise<void> {
  let left = budget;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<"time">((resolve) => (timer = setTimeout(() => resolve("time"), DRAIN_MS)));
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), timeUp]);
      if (next === "time") break;
      if (next.done) return;
      left -= next.value.byteLength;
      if (left < 0) break;
    }
    await reader.cancel().catch(() => undefined);
  } catch {
    // the client went away: nothing left to drain
  } finally {
    clearTimeout(timer);
  }
}

/** Drains a request's body if no handler read it (bodies a handler started reading are its own). */
export async function drainUnreadBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = request.body.getReader();
  } catch {
    return; // locked by a handler that still owns it
  }
  await drainReader(reader);
}
