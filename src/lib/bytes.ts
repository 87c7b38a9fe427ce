const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

/** Bytes for people, in binary units as `ls -h` shows them: `512 B`, `1.5 KB`, `22.2 GB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}
