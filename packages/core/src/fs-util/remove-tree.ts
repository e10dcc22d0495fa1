/**
 * Deletes a tree even when it holds directories without owner write or search permission
 * (a rootfs may ship mode 0555 or 0000 directories; overlayfs leaves its work dir at 000):
 * on EACCES/EPERM the directories are made `u+rwx` (never through symlinks) and the
 * removal is retried. Async for the rootfs cache, sync for teardown at process exit.
 */
import fs from 'node:fs'
import path from 'node:path'

const RETRYABLE = new Set(['EACCES', 'EPERM', 'ENOTEMPTY'])

function isRetryable (error: unknown): boolean {
  return RETRYABLE.has((error as NodeJS.ErrnoException | undefined)?.code ?? '')
}

function makeOwnerAccessibleSync (dir: string): void {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(dir)
    if (!stat.isDirectory()) return
    if ((stat.mode & 0o700) !== 0o700) fs.chmodSync(dir, (stat.mode & 0o7777) | 0o700)
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) makeOwnerAccessibleSync(path.join(dir, entry.name))
    }
  } catch {
    // best effort: the second rm reports what is left
  }
}

export function removeTreeSync (target: string): void {
  try {
    fs.rmSync(target, { recursive: true, force: true, maxRetries: 2 })
    return
  } catch (error) {
    if (!isRetryable(error)) throw error
  }
  makeOwnerAccessibleSync(target)
  fs.rmSync(target, { recursive: true, force: true, maxRetries: 2 })
}

export async function removeTree (target: string): Promise<void> {
  try {
    await fs.promises.rm(target, { recursive: true, force: true, maxRetries: 2 })
    return
  } catch (error) {
    if (!isRetryable(error)) throw error
  }
  makeOwnerAccessibleSync(target)
  await fs.promises.rm(target, { recursive: true, force: true, maxRetries: 2 })
}
