import { describe, expect, it } from "vitest";
import { duration, formatDuration, parseDuration } from "../src/duration.js";

describe("duration inputs", () => {
  it("read a bare number in the input's own unit, and units s, m, h, d, combined", () => {
    expect(parseDuration("300", "s")).toBe(300_000);
    expect(parseDuration("720", "m")).toBe(720 * 60_000);
    expect(parseDuration("300s", "m")).toBe(300_000);
    expect(parseDuration(" 5m ", "s")).toBe(300_000);
    expect(parseDuration("12h", "s")).toBe(12 * 3_600_000);
    expect(parseDuration("1h30m", "s")).toBe(90 * 60_000);
    expect(parseDuration("1H 30M", "s")).toBe(90 * 60_000);
    expect(parseDuration("2d", "m")).toBe(48 * 3_600_000);
  });

  it.each(["", "-5", "1.5", "5 minutes", "5x", "m", "h5", "1e3", "0x10"])("refuse %j", (text) => {
    expect(parseDuration(text, "s")).toBeUndefined();
  });

  it("name the shortest exact spelling in messages", () => {
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(90 * 60_000)).toBe("1h30m");
    expect(formatDuration(1000)).toBe("1s");
    expect(formatDuration(365 * 86_400_000)).toBe("365d");
    expect(formatDuration(0)).toBe("0");
  });

  it("report a bad value through fail, naming the input, and fall back", () => {
    const failed: string[] = [];
    const spec = { input: "dump-timeout", bareUnit: "m" as const, fallbackMs: 7, minMs: 60_000, maxMs: 3_600_000, zeroDisables: true };
    const fail = (input: string, message: string) => failed.push(`${input}: ${message}`);
    expect(duration("", spec, fail)).toBe(7);
    expect(duration("0", spec, fail)).toBe(0);
    expect(duration("30s", spec, fail)).toBe(7);
    expect(duration("soon", spec, fail)).toBe(7);
    expect(duration("45", spec, fail)).toBe(45 * 60_000);
    expect(failed).toEqual([
      'dump-timeout: "30s" is out of range: from 1m to 1h, or 0 (off).',
      'dump-timeout: "soon" is not a duration: a whole number of minutes, or with a unit (300s, 5m, 12h, 1h30m, 7d), from 1m to 1h, or 0 (off).',
    ]);
  });
});
