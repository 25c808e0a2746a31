/**
 * @module
 * One progress line for long work (a large upload, a large lockfile), on stderr, rewritten in
 * place with `\r` and cleared at the end. Only when stderr is a terminal and not under --json:
 * logs, CI and pipes get nothing, so the client's output stays the same everywhere else.
 *
 *     const progress = createProgress("uploading", { total: size, unit: "bytes", json: values.json === true });
 *     progress.update(sent);
 *     progress.done();   // always, also on failure (try/finally)
 */

export interface Progress {
  /** Sets how far the work is (bytes or items, of `total`, which it may also set). Redraws at most every `intervalMs`. */
  update(done: number, total?: number): void;
  /** Adds to how far the work is. */
  add(delta: number): void;
  /** Changes the label (e.g. "hashing" → "uploading") and optionally the total. */
  phase(label: string, total?: number): void;
  /** Clears the line. Idempotent. */
  done(): void;
  /** Whether anything is drawn at all. */
  readonly active: boolean;
}

export interface ProgressOptions {
  total?: number;
  /** "bytes" prints MiB; "items" prints n/total. */
  unit?: "bytes" | "items";
  /** --json: no progress line. */
  json?: boolean;
  /** Defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
  /** Nothing is drawn before this much time has passed: short work stays silent (default 300 ms). */
  delayMs?: number;
}

const MiB = 1024 * 1024;
const NONE: Progress = { update() {}, add() {}, phase() {}, done() {}, active: false };

function amount(value: number, unit: "bytes" | "items"): string {
  return unit === "bytes" ? `${(value / MiB).toFixed(1)} MiB` : String(value);
}

export function createProgress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json || !stream.isTTY || process.env.COUNTERSIGN_NO_PROGRESS) return NONE;
  const unit = options.unit ?? "items";
  const interval = options.intervalMs ?? 100;
  let total = options.total;
  let current = 0;
  const start = Date.now();
  const delay = options.delayMs ?? 300;
  let last = 0;
  let width = 0;
  let drawn = "";
  let finished = false;
  const draw = (force = false) => {
    const now = Date.now();
    if (finished || now - start < delay || (!force && now - last < interval)) return;
    last = now;
    const of = total ? ` / ${amount(total, unit)} (${Math.min(100, Math.floor((current / total) * 100))}%)` : "";
    const line = `countersign: ${label} ${amount(current, unit)}${of}`;
    const columns = stream.columns || 80;
    const shown = line.length >= columns ? line.slice(0, columns - 1) : line;
    if (shown === drawn) return;
    drawn = shown;
    stream.write(`\r${shown}${" ".repeat(Math.max(0, width - shown.length))}`);
    width = shown.length;
  };
  // Redrawn on a timer too, so the line appears for work that stalls right after it starts.
  const ticker = setInterval(() => draw(true), Math.max(interval, 100));
  ticker.unref();
  return {
    active: true,
    update(done, nextTotal) {
      current = done;
      if (nextTotal !== undefined) total = nextTotal;
      draw();
    },
    add(delta) {
      current += delta;
      draw();
    },
    phase(next, nextTotal) {
      label = next;
      if (nextTotal !== undefined) total = nextTotal;
      current = 0;
      draw(true);
    },
    done() {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      if (width > 0) stream.write(`\r${" ".repeat(width)}\r`);
    },
  };
}
