/** Byte sizes and durations as users write them in configs and on the command line. */
import xbytes from 'xbytes'

/** `512MiB`, `1.5 GiB`, `300MB`, `1048576` or a number of bytes -> bytes, or undefined. */
export function parseByteSize (value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return parseByteSize(Number(text))
  // xbytes reads both unit families: MB = 10^6, MiB = 2^20.
  const bytes = xbytes.parseSize(text)
  return bytes === undefined || !Number.isFinite(bytes) || bytes < 1 ? undefined : Math.floor(bytes)
}

export function formatByteSize (bytes: number): string {
  return xbytes(bytes, { iec: true, fixed: bytes % 1024 === 0 ? 0 : 1, space: true })
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `30s`, `2m`, `500ms`, `1.5h` or a number of milliseconds -> milliseconds, or undefined. */
export function parseDuration (value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value) : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value)
  if (match === null) return undefined
  const amount = Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1)
  return amount > 0 ? Math.round(amount) : undefined
}
