/**
 * The host keeps a reference to each sandbox's mount namespace while it runs, and lets
 * go of it after the result.
 *
 * Why: the launcher (`unshare`) is the last process in the namespace, so the kernel
 * unmounts the sandbox's tree (~30 mounts, ~1.5 ms here) as unshare exits, and only then
 * releases unshare's copies of the output pipes (the fput of an exiting task runs after
 * the unmounts: see DESIGN.md, "After the command ends"). The result waits for those
 * pipes. While the host holds the namespace, unshare's exit only drops a reference, the
 * pipes end at once, and the unmounts run later, in the thread pool's close().
 *
 * Opening /proc/<pid>/ns/mnt needs ptrace read access to the launcher: the caller's own
 * child, whose user namespace the caller owns. A failed open only loses the speed-up.
 */
import fs from 'node:fs'

export interface MountNamespaceHold {
  /** Drop the reference: the unmounts then run on a thread-pool thread, not here. */
  release: () => void
  /** At process exit, where no callback would run. */
  releaseSync: () => void
}

export function holdMountNamespace (launcherPid: number): MountNamespaceHold | undefined {
  let fd: number | undefined
  try {
    fd = fs.openSync(`/proc/${launcherPid}/ns/mnt`, 'r')
  } catch {
    return undefined
  }
  const take = (): number | undefined => {
    const held = fd
    fd = undefined
    return held
  }
  return {
    release: () => {
      const held = take()
      if (held !== undefined) fs.close(held, () => {})
    },
    releaseSync: () => {
      const held = take()
      if (held !== undefined) fs.closeSync(held)
    }
  }
}
