/**
 * `mkdir -p` for paths users name (scratch, rootfs cache). Not Node's recursive mkdir:
 * where mkdir answers ENOENT under a parent that exists (procfs, sysfs), Node retries
 * forever (`--scratch-dir /proc/x` hung at 100% CPU, strace: mkdir /proc/x, mkdir /proc, ...).
 */
import fs from 'node:fs'
import path from 'node:path'

export function makeDirectories (dir: string, mode?: number): void {
  const missing: string[] = []
  for (let current = path.resolve(dir); !fs.existsSync(current); current = path.dirname(current)) {
    missing.unshift(current)
    if (path.dirname(current) === current) break
  }
  for (const each of missing) {
    try {
      fs.mkdirSync(each, { mode })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error // created meanwhile: fine
    }
  }
}
