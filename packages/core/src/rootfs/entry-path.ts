/**
 * Archive member names -> path components relative to the extraction root.
 *
 * Policy: a leading `/` (and `./`) is stripped, as GNU tar does, so `/etc/passwd` lands at
 * `<root>/etc/passwd`; empty and `.` components are dropped; any `..` component is refused
 * with NSB_ROOTFS_UNSAFE (even `a/../b`, which would stay inside: GNU tar refuses it too).
 */
import { SandboxError } from '../errors.js'

/** Components of `name`; `[]` means the root itself. */
export function entryPathParts (name: string, archive: string): string[] {
  if (name.includes('\0')) {
    throw new SandboxError('NSB_ROOTFS_INVALID',
      `${archive}: the member name ${JSON.stringify(name)} contains a NUL byte, which no file name can hold; the archive is corrupt: re-create it`)
  }
  const parts: string[] = []
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      throw new SandboxError('NSB_ROOTFS_UNSAFE',
        `${archive}: the member ${JSON.stringify(name)} has a ".." component and would be written outside the root filesystem; refusing to import it. Re-create the archive with paths relative to its root`)
    }
    parts.push(part)
  }
  return parts
}

export function joinParts (parts: readonly string[]): string {
  return parts.length === 0 ? '.' : parts.join('/')
}
