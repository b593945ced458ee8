// Figures as the log and the job summary show them, shared by the backup's and the restore check's sections.

/** Bytes in binary units, one decimal above bytes: `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/**
 * A count with thousands separators: `2,314,940`. By hand, not `toLocaleString("en-US")`: its
 * first call loads ICU's number formats, about 30 ms of the step's end for one figure.
 */
export function formatCount(n: number): string {
  const [whole = "", fraction] = String(n).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
