// Durations in inputs: a bare number keeps the input's historical unit (seconds for
// `reachable-timeout`, minutes for `stale-rule-age`), and a unit may be written instead
// (`300s`, `5m`, `12h`, `1h30m`, `7d`). One parser for every duration input, so that they all
// read and refuse the same way.

import type { Fail } from "./inputs.js";

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;
const UNIT_NAMES: Record<DurationUnit, string> = { s: "seconds", m: "minutes", h: "hours", d: "days" };

/** One or more `<whole number><unit>` parts, largest first by habit but in any order. */
const WITH_UNITS = /^(?:\d+[smhd])+$/;

/** Milliseconds in `text` (trimmed, case-insensitive units), or undefined when it is not a duration. */
export function parseDuration(text: string, bareUnit: DurationUnit): number | undefined {
  const value = text.trim().toLowerCase().replace(/\s+/g, "");
  if (/^\d+$/.test(value)) return Number(value) * UNIT_MS[bareUnit];
  if (!WITH_UNITS.test(value)) return undefined;
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNIT_MS[unit as DurationUnit];
  return ms;
}

/** `90m` → "1h30m": the shortest exact spelling, for messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let text = "";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n) text += `${n}${unit}`;
    rest -= n * UNIT_MS[unit];
  }
  return text || `${ms}ms`;
}

export interface DurationSpec {
  input: string;
  /** What a bare number counts: the input's unit before units were accepted. */
  bareUnit: DurationUnit;
  fallbackMs: number;
  minMs: number;
  maxMs: number;
  /** 0 is accepted below `minMs` (a switch-off), when set. */
  zeroDisables?: boolean;
}

/** A duration input in milliseconds; a bad value is reported through `fail`, naming the input. */
export function duration(text: string, spec: DurationSpec, fail: Fail): number {
  if (!text.trim()) return spec.fallbackMs;
  const ms = parseDuration(text, spec.bareUnit);
  const range = `from ${formatDuration(spec.minMs)} to ${formatDuration(spec.maxMs)}${spec.zeroDisables ? ", or 0 (off)" : ""}`;
  if (ms === undefined) {
    fail(
      spec.input,
      `"${text.trim()}" is not a duration: a whole number of ${UNIT_NAMES[spec.bareUnit]}, or with a unit (300s, 5m, 12h, 1h30m, 7d), ${range}.`,
    );
    return spec.fallbackMs;
  }
  if (ms === 0 && spec.zeroDisables) return 0;
  if (ms < spec.minMs || ms > spec.maxMs) {
    fail(spec.input, `"${text.trim()}" is out of range: ${range}.`);
    return spec.fallbackMs;
  }
  return ms;
}
