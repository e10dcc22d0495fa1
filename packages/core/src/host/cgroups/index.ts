/**
 * Host-side cgroup management (v1, v2 and hybrid hosts) for the sandboxes of a run.
 * Layout: `<parent>/ns-sandbox-<uid>-run-<runId>/sb-<sandboxId>` in each hierarchy a limit needs, where
 * <parent> is NS_SANDBOX_CGROUP_PARENT when set, else this process's own cgroup (see detect.ts for the
 * environment variables).
 */
import { describeHost, hostVersion, readCgroupHost, UNUSABLE } from './detect.js'
import { isSandboxError } from '../../errors.js'
import type { CgroupEnvironment } from './types.js'

export type { CgroupEnvironment, CgroupLimits, CgroupUsage, SandboxCgroup } from './types.js'
export { createSandboxCgroup } from './sandbox.js'
export { removeStaleCgroups } from './stale.js'

/** The host's cgroup setup, for the launcher and `ns-sandbox doctor`. Never throws. */
export function detectCgroups (): CgroupEnvironment {
  try {
    const host = readCgroupHost()
    const lines = describeHost(host)
    return { version: hostVersion(host), describe: () => lines, unusable: () => lines.filter((line) => line.includes(UNUSABLE)) }
  } catch (error) {
    const line = isSandboxError(error) ? error.describe() : `cgroups: cannot be inspected: ${String(error)}`
    return { version: 'none', describe: () => [line], unusable: () => [line] }
  }
}
