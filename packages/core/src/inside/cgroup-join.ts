/** Join the sandbox's cgroups before anything else runs, then root a cgroup namespace there. */
import { writeFileSync } from 'node:fs'
import { CLONE_NEWCGROUP, unshare } from '../ffi/libc.js'

export function joinCgroups (procsFiles: readonly string[]): void {
  if (procsFiles.length === 0) return
  // "0" means the writing process; its pid here is the namespace's, not the host's.
  for (const file of procsFiles) writeFileSync(file, '0')
  // The cgroup namespace from `unshare --cgroup` was rooted at the launcher's cgroup;
  // a nested one makes the sandbox's own cgroup "/" for everything that runs next.
  unshare(CLONE_NEWCGROUP)
}
