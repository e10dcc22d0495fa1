/**
 * What a machine needs for sandboxes, checked for real (each check starts the kernel
 * feature it is about) and explained: `ns-sandbox doctor` prints them all, and a
 * sandbox that fails to start reports the first one that fails.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SandboxErrorCode } from '../errors.js'
import { removeTreeSync } from '../fs-util/remove-tree.js'
import { detectCgroups } from '../host/cgroups/index.js'
import { PERL_HINT, probeTools, type LaunchTools } from '../host/tools.js'

export interface CheckResult {
  name: string
  ok: boolean
  /** What was found. */
  summary: string
  /** When not ok: the error code a sandbox start reports, and the exact fix. */
  code?: SandboxErrorCode
  fix?: string[]
}

function readSysctl (name: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim()
  } catch {
    return undefined
  }
}

function run (tools: LaunchTools, args: string[]): { ok: boolean, stderr: string } {
  const result = spawnSync(tools.unshare, args, { encoding: 'utf8', timeout: 10_000 })
  return { ok: result.status === 0, stderr: (result.stderr ?? '').trim() }
}

export function checkTools (): { result: CheckResult, tools?: LaunchTools } {
  const { tools, missing } = probeTools()
  if (tools === undefined && missing.includes('perl')) {
    return { result: { name: 'perl', ok: false, summary: 'perl (the init of every sandbox) not found in PATH', code: 'NSB_PERL_MISSING', fix: [PERL_HINT] } }
  }
  if (tools === undefined) {
    return {
      result: {
        name: 'util-linux', ok: false, summary: `${missing.join(', ')} not found in PATH`, code: 'NSB_UTIL_LINUX_MISSING',
        fix: ['apt-get install util-linux (Debian/Ubuntu), dnf install util-linux (Fedora), apk add util-linux setpriv (Alpine)']
      }
    }
  }
  if (!tools.hasKillChild) {
    return {
      tools,
      result: { name: 'util-linux', ok: false, summary: `${tools.unshareVersion}: no --kill-child`, code: 'NSB_UTIL_LINUX_TOO_OLD', fix: ['install util-linux >= 2.38'] }
    }
  }
  const identity = tools.hasMapUser && tools.hasKeepCaps
    ? '--map-user, --keep-caps: your uid is kept inside'
    : 'no --map-user/--keep-caps: sandboxes run as uid 0 inside (util-linux >= 2.38 keeps your uid)'
  return { tools, result: { name: 'util-linux', ok: true, summary: `${tools.unshareVersion}; ${identity}` } }
}

function seccompFiltered (): boolean {
  try {
    return /^Seccomp:\s*2/m.test(fs.readFileSync('/proc/self/status', 'utf8'))
  } catch {
    return false
  }
}

/** The sysctls that can refuse unprivileged user namespaces. */
const USERNS_SYSCTLS = ['kernel.apparmor_restrict_unprivileged_userns', 'kernel.unprivileged_userns_clone', 'user.max_user_namespaces'] as const

/** What the machine says about a refused `unshare --user`: the facts the diagnosis rests on. */
export interface UsernsRefusal {
  /** unshare's error text. */
  stderr: string
  /** sysctl values by name; absent where the sysctl does not exist. */
  sysctls: Partial<Record<typeof USERNS_SYSCTLS[number], string>>
  /** A seccomp filter is on this process (Seccomp: 2 in /proc/self/status). */
  seccompFiltered: boolean
  /** The binaries an AppArmor profile would name. */
  node: string
  unshare: string
}

/** Why user namespaces were refused, and the fix: pure, so each case is tested without the machine. */
export function diagnoseUsernsRefusal (refusal: UsernsRefusal): CheckResult {
  const name = 'user namespaces'
  const summary = `unshare --user failed: ${refusal.stderr || 'no error text'}`
  if (refusal.sysctls['kernel.apparmor_restrict_unprivileged_userns'] === '1') {
    return {
      name, ok: false, summary, code: 'NSB_APPARMOR_USERNS',
      fix: ['AppArmor restricts unprivileged user namespaces (Ubuntu >= 23.10). Either:',
        '  sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   (machine-wide), or',
        `  an AppArmor profile for ${refusal.node} and ${refusal.unshare} with the \`userns,\` rule`]
    }
  }
  if (refusal.sysctls['kernel.unprivileged_userns_clone'] === '0') {
    return { name, ok: false, summary, code: 'NSB_USERNS_DENIED', fix: ['sudo sysctl -w kernel.unprivileged_userns_clone=1'] }
  }
  if (refusal.sysctls['user.max_user_namespaces'] === '0') {
    return { name, ok: false, summary, code: 'NSB_USERNS_DENIED', fix: ['sudo sysctl -w user.max_user_namespaces=15000'] }
  }
  // EPERM under a seccomp filter: a container's profile (Docker's default refuses unshare
  // with namespace flags) or a service's RestrictNamespaces=, in or out of a container.
  if (refusal.seccompFiltered && /Operation not permitted/.test(refusal.stderr)) {
    return {
      name, ok: false, summary, code: 'NSB_SECCOMP_DENIED',
      fix: ['A seccomp filter on this process (Seccomp: 2 in /proc/self/status) refuses unshare/clone with namespace flags.',
        'In a container: run it with `--security-opt seccomp=unconfined` (Docker/Podman), or a profile that allows unshare, clone and mount.',
        'In a systemd service: RestrictNamespaces=no (or list user mnt pid uts ipc net cgroup).']
    }
  }
  return { name, ok: false, summary, code: 'NSB_USERNS_DENIED', fix: ['Enable user namespaces in the kernel (CONFIG_USER_NS=y) and in sysctl user.max_user_namespaces.'] }
}

export function checkUserNamespaces (tools: LaunchTools): CheckResult {
  const probe = run(tools, ['--user', '--map-root-user', 'true'])
  if (probe.ok) return { name: 'user namespaces', ok: true, summary: 'unprivileged user namespaces work' }
  const sysctls: UsernsRefusal['sysctls'] = {}
  for (const key of USERNS_SYSCTLS) {
    const value = readSysctl(key)
    if (value !== undefined) sysctls[key] = value
  }
  return diagnoseUsernsRefusal({ stderr: probe.stderr, sysctls, seccompFiltered: seccompFiltered(), node: process.execPath, unshare: tools.unshare })
}

export function checkNetworkNamespace (tools: LaunchTools): CheckResult {
  const probe = run(tools, ['--user', '--map-root-user', '--net', 'true'])
  return probe.ok
    ? { name: 'network namespaces', ok: true, summary: 'a private network namespace can be created' }
    : { name: 'network namespaces', ok: false, summary: probe.stderr, code: 'NSB_USERNS_DENIED', fix: ['Enable CONFIG_NET_NS, or use `network: \'host\'`.'] }
}

export function checkOverlay (tools: LaunchTools): CheckResult {
  const name = 'overlayfs in a user namespace'
  let dir: string
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-sandbox-doctor-'))
  } catch (error) {
    return {
      name, ok: false, summary: `not checked: no probe directory in ${os.tmpdir()}: ${(error as Error).message}`, code: 'NSB_SETUP_FAILED',
      fix: ['Set TMPDIR to a writable directory (or unset it for /tmp).']
    }
  }
  try {
    for (const sub of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, sub))
    const script = `mount -t overlay overlay -o lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,userxattr ${dir}/merged`
    const probe = run(tools, ['--user', '--map-root-user', '--mount', tools.sh, '-c', script])
    return probe.ok
      ? { name, ok: true, summary: 'overlay mounts work (copy-on-write host view available)' }
      : {
          name, ok: false, summary: probe.stderr, code: 'NSB_OVERLAY_UNSUPPORTED',
          fix: ['Linux >= 5.11 allows overlayfs in user namespaces; the scratch directory must be on a local filesystem (not overlay, not NFS).',
            'Workaround: `readonly: true` (read-only host view) or `scratchDir` on ext4/xfs/tmpfs.']
        }
  } finally {
    removeTreeSync(dir) // overlayfs leaves work/work with mode 000
  }
}

export function checkProc (tools: LaunchTools): CheckResult {
  const probe = run(tools, ['--user', '--map-root-user', '--mount', '--pid', '--fork', tools.sh, '-c', 'mount -t proc proc /proc'])
  return probe.ok
    ? { name: 'procfs', ok: true, summary: 'a fresh /proc can be mounted for a new PID namespace' }
    : {
        name: 'procfs', ok: false, summary: probe.stderr, code: 'NSB_PROC_UNMOUNTABLE',
        fix: ['The host /proc has masked or read-only parts (typical inside Docker): run the container with `--security-opt systempaths=unconfined` or `--privileged`.']
      }
}

export function checkCgroups (): CheckResult {
  const environment = detectCgroups()
  const lines = environment.describe()
  const unusable = environment.unusable()
  const summary = `${environment.version === 'none' ? 'no usable cgroup hierarchy' : `cgroup v${environment.version}`}${lines.length > 0 ? ': ' + lines.join('; ') : ''}`
  if (environment.version !== 'none' && unusable.length === 0) return { name: 'cgroups', ok: true, summary }
  return {
    name: 'cgroups',
    ok: false,
    summary,
    code: environment.version === 'none' ? 'NSB_CGROUP_UNAVAILABLE' : 'NSB_CGROUP_NOT_DELEGATED',
    fix: ['Limits (memory, pids, cpus) need a cgroup this user may manage; limit-free sandboxes start without one.',
      'v2: run under `systemd-run --user --scope -p Delegate=yes -- <cmd>` (with NS_SANDBOX_CGROUP_MOVE_SELF=1);',
      'v1 or any: create a cgroup per controller, chown it to this user, and set NS_SANDBOX_CGROUP_PARENT=/<its path>.']
  }
}

/** Every check, for `ns-sandbox doctor`. */
export function runAllChecks (): CheckResult[] {
  const { result, tools } = checkTools()
  const results = [result]
  if (tools !== undefined) {
    const userns = checkUserNamespaces(tools)
    results.push(userns)
    if (userns.ok) results.push(checkNetworkNamespace(tools), checkOverlay(tools), checkProc(tools))
  }
  results.push(checkCgroups())
  return results
}
