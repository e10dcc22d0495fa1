/**
 * Directory facts (a listing, whether it is empty) kept from one sandbox to the next
 * while the directory is unchanged: adding, removing or renaming an entry changes the
 * directory's mtime and ctime, and replacing it changes its inode. Saves ~2 ms per
 * sandbox start (readdir and opendir of / and its ~20 top-level directories).
 *
 * A fact read less than RACY_MS after the directory last changed is not reused: file
 * times come from a coarse clock (~4 ms), so a change in the same tick as the read
 * would leave the times as they were.
 */
import fs from 'node:fs'

const RACY_MS = 1000n

interface Fact<T> { key: string, value: T }

function stamp (dir: string): { key: string, changedMs: bigint } | undefined {
  const stat = fs.statSync(dir, { bigint: true, throwIfNoEntry: false })
  if (stat === undefined) return undefined
  return { key: `${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}`, changedMs: stat.ctimeNs / 1_000_000n }
}

export class DirectoryFacts<T> {
  private readonly facts = new Map<string, Fact<T>>()

  constructor (private readonly read: (dir: string) => T) {}

  get (dir: string): T {
    const before = stamp(dir)
    const known = this.facts.get(dir)
    if (before !== undefined && known?.key === before.key) return known.value
    const readAt = BigInt(Date.now())
    const value = this.read(dir)
    if (before === undefined || readAt - before.changedMs < RACY_MS) {
      this.facts.delete(dir)
    } else {
      this.facts.set(dir, { key: before.key, value })
    }
    return value
  }
}
