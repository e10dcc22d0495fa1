/** Delete a scratch tree, including overlayfs work dirs the kernel leaves with mode 000. */
import fs from 'node:fs'
import path from 'node:path'

function makeWritable (dir: string): void {
  try {
    fs.chmodSync(dir, 0o700)
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) makeWritable(path.join(dir, entry.name))
    }
  } catch {
    // best effort; the second rm reports what is left
  }
}

export function removeTree (dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw error
    makeWritable(dir)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
