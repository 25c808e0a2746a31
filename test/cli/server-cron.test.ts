/** The local server's cron triggers (scripts/server/cron.ts): what matches, what is refused, when it fires. */

import { afterEach, describe, expect, it, vi } from "vitest";
import { parseCron, scheduleCrons, type CronMatcher } from "../../scripts/server/cron.js";

const at = (iso: string) => new Date(iso);
function matcher(expression: string): CronMatcher {
  const parsed = parseCron(expression);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

describe("parseCron", () => {
  it("matches minutes, hours, ranges, lists and steps in UTC", () => {
    const daily = matcher("17 3 * * *");
    expect(daily(at("2026-11-26T03:17:00Z"))).toBe(true);
    expect(daily(at("2026-11-26T03:18:00Z"))).toBe(false);
    expect(daily(at("2026-11-26T04:17:00Z"))).toBe(false);
    const every15 = matcher("*/15 * * * *");
    expect([0, 15, 30, 45].every((m) => every15(at(`2026-11-26T10:${String(m).padStart(2, "0")}:00Z`)))).toBe(true);
    expect(every15(at("2026-11-26T10:14:00Z"))).toBe(false);
    const workHours = matcher("0 9-17/4,23 * * 1-5");
    expect(workHours(at("2026-11-26T13:00:00Z"))).toBe(true); // Thursday, 9+4
    expect(workHours(at("2026-11-26T23:00:00Z"))).toBe(true);
    expect(workHours(at("2026-11-26T11:00:00Z"))).toBe(false);
    expect(workHours(at("2026-11-28T13:00:00Z"))).toBe(false); // Saturday
  });

  it("treats 7 as Sunday and, as Vixie cron does, ORs two restricted day fields", () => {
    expect(matcher("0 0 * * 7")(at("2026-11-29T00:00:00Z"))).toBe(true); // Sunday
    const either = matcher("0 0 1 * 1");
    expect(either(at("2026-12-01T00:00:00Z"))).toBe(true); // the 1st, a Tuesday
    expect(either(at("2026-11-30T00:00:00Z"))).toBe(true); // a Monday
    expect(either(at("2026-12-02T00:00:00Z"))).toBe(false);
  });

  it.each([
    ["* * * *", "five fields"],
    ["60 * * * *", "outside 0-59"],
    ["* 24 * * *", "outside 0-23"],
    ["* * 0 * *", "outside 1-31"],
    ["*/0 * * * *", "outside"],
    ["5-1 * * * *", "outside"],
    ["MON * * * *", "not a number"],
    ["@daily", "five fields"],
  ])("refuses %j rather than never running it", (expression, reason) => {
    const parsed = parseCron(expression);
    expect(typeof parsed).toBe("string");
    expect(parsed).toContain(reason);
  });
});

describe("scheduleCrons", () => {
  afterEach(() => vi.useRealTimers());

  it("fires each matching expression once at the start of its minute, never overlapping itself", async () => {
    vi.useFakeTimers({ now: at("2026-11-26T10:58:30Z") });
    const fired: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const stop = scheduleCrons(
      [
        { expression: "* * * * *", matches: matcher("* * * * *") },
        { expression: "0 * * * *", matches: matcher("0 * * * *") },
      ],
      async (expression, when) => {
        fired.push(`${expression}@${when.toISOString()}`);
        if (expression === "* * * * *") await slow;
      },
    );
    await vi.advanceTimersByTimeAsync(30_100); // just past 10:59:00
    await vi.advanceTimersByTimeAsync(60_000); // 11:00:00: the every-minute run is still going
    expect(fired).toEqual(["* * * * *@2026-11-26T10:59:00.000Z", "0 * * * *@2026-11-26T11:00:00.000Z"]);
    release();
    await vi.advanceTimersByTimeAsync(60_000); // 11:01:00
    expect(fired.at(-1)).toBe("* * * * *@2026-11-26T11:01:00.000Z");
    stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(fired).toHaveLength(3);
  });
});
