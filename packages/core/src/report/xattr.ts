/**
 * overlayfs marks a directory that was removed and made again with the xattr
 * `user.overlay.opaque=y` (the host's entries below it are hidden). Node has no xattr
 * API; libc's lgetxattr is read through ffi/libc.ts, loaded only when a report is asked for.
 */
import { koffiAddonPath } from '../ffi/addon-path.js'
import { loadLibc, readXattr } from '../ffi/libc.js'

/** Whether overlayfs marked `dir` (in an upper layer) opaque. False when xattrs cannot be read. */
export function isOpaqueDirectory (dir: string): boolean {
  try {
    loadLibc(koffiAddonPath())
    return readXattr(dir, 'user.overlay.opaque', 4)?.toString('latin1') === 'y'
  } catch {
    return false
  }
}
