/** `sha256:<hex>` digests: computing them for files and telling them apart from names. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

const PATTERNS: Record<string, RegExp> = {
  sha256: /^[0-9a-f]{64}$/,
  sha512: /^[0-9a-f]{128}$/
}

export interface ParsedDigest { algorithm: 'sha256' | 'sha512', hex: string }

/** `sha256:<hex>` or `sha512:<hex>` -> its parts, or undefined when malformed. */
export function parseDigest (value: string): ParsedDigest | undefined {
  const colon = value.indexOf(':')
  if (colon < 0) return undefined
  const algorithm = value.slice(0, colon)
  const hex = value.slice(colon + 1)
  const pattern = PATTERNS[algorithm]
  if (pattern === undefined || !pattern.test(hex)) return undefined
  return { algorithm: algorithm as ParsedDigest['algorithm'], hex }
}

export async function hashFile (file: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const hash = createHash(algorithm)
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return `${algorithm}:${hash.digest('hex')}`
}
