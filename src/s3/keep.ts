// Which backups rotation keeps: restic's `forget --keep-daily/--keep-weekly/--keep-monthly`
// semantics, in UTC. Newest first, each rule keeps a backup when it falls in a day (week, month)
// other than the last one that rule kept, until the rule has kept N; a backup any rule keeps stays.

export type KeepUnit = "daily" | "weekly" | "monthly";
export type KeepPolicy = Partial<Record<KeepUnit, number>>;

const UNITS: readonly KeepUnit[] = ["daily", "weekly", "monthly"];

/** `daily=7 weekly=4 monthly=12`: words separated by spaces, commas or line breaks. */
export function parseKeep(text: string): KeepPolicy {
  const policy: KeepPolicy = {};
  for (const word of text.split(/[\s,]+/).filter(Boolean)) {
    const match = /^(daily|weekly|monthly)=(\d{1,4})$/.exec(word);
    if (!match) throw new Error(`"${word}" is not daily=N, weekly=N or monthly=N (e.g. \`daily=7 weekly=4 monthly=12\`).`);
    const unit = match[1] as KeepUnit;
    if (unit in policy) throw new Error(`${unit} is given twice.`);
    policy[unit] = Number(match[2]);
  }
  if (!UNITS.some((unit) => (policy[unit] ?? 0) > 0)) throw new Error("keeps nothing: give at least one of daily, weekly, monthly above 0.");
  return policy;
}

/** The period a backup falls in, for one rule: a UTC day, ISO week or month. */
function periodOf(unit: KeepUnit, at: Date): string {
  const iso = at.toISOString();
  if (unit === "daily") return iso.slice(0, 10);
  if (unit === "monthly") return iso.slice(0, 7);
  // ISO 8601 week (restic uses Go's ISOWeek): the week's Thursday decides its year.
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** The times to keep, out of `times` (any order): restic forget's choice. */
export function chooseKept(times: readonly Date[], policy: KeepPolicy): Set<number> {
  const rules = UNITS.filter((unit) => (policy[unit] ?? 0) > 0).map((unit) => ({ unit, left: policy[unit] as number, last: "" }));
  const kept = new Set<number>();
  for (const at of [...times].sort((a, b) => b.getTime() - a.getTime())) {
    for (const rule of rules) {
      const period = periodOf(rule.unit, at);
      if (rule.left > 0 && period !== rule.last) {
        rule.last = period;
        rule.left--;
        kept.add(at.getTime());
      }
    }
  }
  return kept;
}
