// binary multiples with their IEC names: the limits (MAX_BODY_MB, OUTPUT_INLINE_MAX_MB) are multiples of 1024²,
// so a size and a limit are always shown in the same unit; Hugging Face's decimal "23.8 GB" is 22.2 GiB
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes for people, in binary units labelled as such (as `ls -h` counts): `512 B`, `1.5 KiB`, `22.2 GiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}
