/**
 * @module
 * Cron Triggers for the local server: on Cloudflare the platform fires `scheduled`; here the
 * server checks once a minute which of wrangler.toml's `[triggers] crons` match (UTC, as on
 * Cloudflare) and fires them. Understands the five-field form with `*`, numbers, ranges, lists
 * and steps; anything else is refused at start-up rather than silently never run.
 */

/** Bounds of minute, hour, day of month, month, day of week (0 and 7 are Sunday). */
const FIELDS = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
] as const;

export type CronMatcher = (at: Date) => boolean;

function parseField(text: string, [min, max]: readonly [number, number]): Set<number> | string {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return `"${part}" is not a number, range, list or step`;
    const from = m[1] === "*" ? min : Number(m[2]);
    const to = m[1] === "*" ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return `"${part}" is outside ${min}-${max}`;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** A matcher for one cron expression, or a reason it is not understood. */
export function parseCron(expression: string): CronMatcher | string {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return `cron "${expression}" must have five fields`;
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i++) {
    const parsed = parseField(parts[i]!, FIELDS[i]!);
    if (typeof parsed === "string") return `cron "${expression}": ${parsed}`;
    sets.push(parsed);
  }
  const [minutes, hours, days, months, weekdays] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
  // As in Vixie cron: when both day fields are restricted, either may match.
  const dayRestricted = !parts[2]!.startsWith("*");
  const weekdayRestricted = !parts[4]!.startsWith("*");
  return (at) => {
    if (!minutes.has(at.getUTCMinutes()) || !hours.has(at.getUTCHours()) || !months.has(at.getUTCMonth() + 1)) return false;
    const day = days.has(at.getUTCDate());
    const weekday = weekdays.has(at.getUTCDay());
    return dayRestricted && weekdayRestricted ? day || weekday : day && weekday;
  };
}

/**
 * Calls `fire` for every matching expression at the start of each minute. Returns a stop
 * function. Runs never overlap for one expression: a slow run makes the next minute skip it.
 */
export function scheduleCrons(crons: { expression: string; matches: CronMatcher }[], fire: (expression: string, at: Date) => Promise<void>): () => void {
  const running = new Set<string>();
  let timer: NodeJS.Timeout;
  const tick = () => {
    const now = new Date();
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    for (const { expression, matches } of crons) {
      if (!matches(minute) || running.has(expression)) continue;
      running.add(expression);
      void fire(expression, minute).finally(() => running.delete(expression));
    }
    timer = setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
    timer.unref();
  };
  timer = setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
  timer.unref();
  return () => clearTimeout(timer);
}
