/**
 * The host keeps a reference to each sandbox's mount namespace while it runs, and lets
 * go of it after the result.
 *
 * Why: the launcher (`unshare`) is the last process in the namespace, so the kernel
 * unmounts the sandbox's tree (~30 mounts, ~1.5 ms here) as unshare exits, and only then
 * releases unshare's copies of the output pipes (the fput of an exiting task runs after
 * the unmounts; DESIGN.md, launch chain). The result waits for those pipes. While the
 * host holds the namespace, unshare's exit only drops a reference, the pipes end at
 * once, and the unmounts run later, in the thread pool's close(). At the runner's exit
 * the kernel closes the fd like any other.
 *
 * Opening /proc/<pid>/ns/mnt needs ptrace read access to the launcher: the caller's own
 * child, whose user namespace the caller owns. A failed open only loses the speed-up.
 */
import fs from 'node:fs'

/** Returns the release: the unmounts then run on a thread-pool thread, not the caller's. */
export function holdMountNamespace (launcherPid: number): (() => void) | undefined {
  let fd: number
  try {
    fd = fs.openSync(`/proc/${launcherPid}/ns/mnt`, 'r')
  } catch {
    return undefined
  }
  let held = true
  return () => {
    if (!held) return
    held = false
    fs.close(fd, () => {})
  }
}
