/** Bytes of regular files under a directory (hard links counted once), without following symlinks. */
import fs from 'node:fs/promises'
import path from 'node:path'

export async function treeSize (root: string): Promise<number> {
  const seen = new Set<string>()
  let total = 0
  const pending = [root]
  while (pending.length > 0) {
    const dir = pending.pop() as string
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        pending.push(full)
      } else if (entry.isFile()) {
        const stat = await fs.lstat(full)
        if (stat.nlink > 1) {
          const key = `${stat.dev}:${stat.ino}`
          if (seen.has(key)) continue
          seen.add(key)
        }
        total += stat.size
      }
    }
  }
  return total
}
