/** The SandboxErrors of cgroup management: what failed, why, and the exact fix. */
import { SandboxError } from '../../errors.js'
import type { Controller, Hierarchy } from './detect.js'
import { errnoOf, writeCgroupFile } from './io.js'

export const LIMIT_NAMES: Record<Controller, string> = { memory: 'memory limit', pids: 'pids limit', cpu: 'cpus limit' }

const V2_DELEGATE_FIX = 'NS_SANDBOX_CGROUP_MOVE_SELF=1 systemd-run --user --scope -p Delegate=yes -- <cmd>'

export function controllerMissing (name: Controller, where: string): SandboxError {
  return new SandboxError('NSB_CGROUP_CONTROLLER_MISSING',
    `the ${LIMIT_NAMES[name]} needs the cgroup "${name}" controller, but ${where}.`,
    {
      details: [
        `Fix (cgroup v2): have it enabled down to this cgroup: for systemd user sessions \`sudo systemctl edit user@.service\` with "[Service]" "Delegate=cpu memory pids", then run under \`${V2_DELEGATE_FIX}\`; without systemd, \`echo +${name} | sudo tee <each ancestor>/cgroup.subtree_control\`.`,
        `Fix (cgroup v1): mount its hierarchy: \`sudo mkdir -p /sys/fs/cgroup/${name} && sudo mount -t cgroup -o ${name} cgroup /sys/fs/cgroup/${name}\`.`,
        ...(name === 'memory' ? ['If the kernel disables it, boot with `cgroup_enable=memory swapaccount=1` on the kernel command line.'] : []),
        `Or drop the ${LIMIT_NAMES[name]}.`
      ]
    })
}

/** The fix for hierarchies whose parent cgroup is not ours to write (one line per cgroup version). */
export function delegationFixes (hierarchies: readonly Hierarchy[], parentOverride: string | undefined): string[] {
  const fixes: string[] = []
  const v1 = hierarchies.filter((h) => h.version === 1)
  if (v1.length > 0) {
    const name = parentOverride ?? '/ns-sandbox'
    const dirs = v1.map((h) => `${h.mountPoint}${name}`).join(' ')
    fixes.push(`Fix: \`sudo mkdir -p ${dirs} && sudo chown -R $USER ${dirs}\`, then run from a process inside ${v1.length > 1 ? 'them' : 'it'} or \`export NS_SANDBOX_CGROUP_PARENT=${name}\`; or drop the limit.`)
  }
  if (hierarchies.some((h) => h.version === 2)) {
    fixes.push(`Fix: run under a delegated cgroup: \`${V2_DELEGATE_FIX}\`; or set NS_SANDBOX_CGROUP_PARENT to an empty cgroup you own that has the controllers enabled (on v2 you must also be allowed to write cgroup.procs of the common ancestor of your cgroup and it); or drop the limit.`)
  }
  return fixes
}

/**
 * Write a limit or setup value to a cgroup file; a failure is a SandboxError naming the file.
 * ENOENT means the controller is not active there; EACCES/EPERM that the cgroup is not ours.
 */
export function writeOrThrow (path: string, value: string, purpose: string, controller?: Controller): void {
  try {
    writeCgroupFile(path, value)
  } catch (error) {
    throw writeError(path, value, purpose, controller, error)
  }
}

/** The SandboxError for a failed write of `value` to cgroup file `path`. */
export function writeError (path: string, value: string, purpose: string, controller: Controller | undefined, error: unknown): SandboxError {
  const errno = errnoOf(error) ?? 'error'
  if (errno === 'ENOENT' && controller !== undefined) {
    return controllerMissing(controller, `${path} does not exist (the controller is not enabled for this cgroup, or the kernel was built without that feature)`)
  }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return new SandboxError('NSB_CGROUP_NOT_DELEGATED',
      `cannot write "${value}" to ${path} (${purpose}): ${errno}, the cgroup is not writable by uid ${process.getuid?.() ?? '?'}. ` +
      'Fix: run ns-sandbox where it may create cgroups (see `ns-sandbox doctor`), set NS_SANDBOX_CGROUP_PARENT to a cgroup you own, or drop the limit.',
      { cause: error })
  }
  return new SandboxError('NSB_CGROUP_UNAVAILABLE',
    `cannot write "${value}" to ${path} (${purpose}): ${errno}${errno === 'EINVAL' ? ' (the kernel refused the value; a parent cgroup may have a lower limit)' : ''}. ` +
    'Fix: check the value and the parent cgroups\' limits, or drop the limit.',
    { cause: error })
}
