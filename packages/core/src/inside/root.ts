/** Make the assembled tree the process's root and forget the host's. */
import { MNT_DETACH, pivotRoot, umount2 } from '../ffi/libc.js'

export function enterRoot (rootDir: string, cwd: string): void {
  // pivot_root(".", ".") stacks the old root under the new one; detaching "." then
  // removes the host tree without needing a directory to park it in.
  process.chdir(rootDir)
  pivotRoot('.', '.')
  umount2('.', MNT_DETACH)
  process.chdir('/')
  try {
    process.chdir(cwd)
  } catch {
    // The working directory may not exist in a root filesystem from an archive.
    process.chdir('/')
  }
}
