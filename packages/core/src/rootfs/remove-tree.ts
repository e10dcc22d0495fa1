/**
 * Deletes an unpacked tree even when it holds directories without owner write or search
 * permission (a rootfs may ship mode 0555 or 0000 directories): on EACCES/EPERM the
 * directories are made `u+rwx` (never through symlinks) and the removal is retried.
 */
import fs from 'node:fs/promises'
import path from 'node:path'

function errorCode (error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

async function makeOwnerAccessible (dir: string): Promise<void> {
  let stat
  try {
    stat = await fs.lstat(dir)
  } catch {
    return
  }
  if (!stat.isDirectory()) return
  if ((stat.mode & 0o700) !== 0o700) {
    try {
      await fs.chmod(dir, (stat.mode & 0o7777) | 0o700)
    } catch {
      // best effort: the second rm reports what is left
    }
  }
  let entries
  try {
    entries = await fs.readdir(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await makeOwnerAccessible(path.join(dir, entry.name))
  }
}

export async function removeTree (target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true, maxRetries: 2 })
    return
  } catch (error) {
    const code = errorCode(error)
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw error
  }
  await makeOwnerAccessible(target)
  await fs.rm(target, { recursive: true, force: true, maxRetries: 2 })
}
