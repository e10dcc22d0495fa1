/**
 * The launch chain as an argv (see DESIGN.md):
 *   setpriv --pdeathsig KILL          dies with the runner's thread that spawned it
 *   unshare --user ... --fork --kill-child   namespaces from a single-threaded process
 *   /bin/sh -c '"$@"; exit $?'        PID 1: waits in the foreground, reaps orphans
 *   node [execArgv] bootstrap.cjs CONFIG    PID 2: mounts, pivot_root, drops privileges
 */
import type { NetworkMode } from '../options/schema.js'
import type { LaunchTools } from './tools.js'

export interface LaunchSpec {
  uid: number
  gid: number
  root: boolean
  network: NetworkMode
  nodePath: string
  execArgv: readonly string[]
  bootstrapPath: string
  configPath: string
}

/**
 * PID 1's script. A foreground command keeps the terminal's process group and stdin
 * (a background job would get /dev/null and ignore SIGINT); while dash waits for it,
 * it reaps every child, orphans included. The trailing `exit` stops dash from exec'ing
 * the command in place of itself.
 */
export const INIT_SCRIPT = '"$@"; exit $?'

export function buildLaunchCommand (tools: LaunchTools, spec: LaunchSpec): { file: string, args: string[], identityNote?: string } {
  let identity: string[]
  let identityNote: string | undefined
  if (tools.hasMapUser && tools.hasKeepCaps) {
    const uid = spec.root ? 0 : spec.uid
    const gid = spec.root ? 0 : spec.gid
    identity = [`--map-user=${uid}`, `--map-group=${gid}`, '--keep-caps']
  } else {
    identity = ['--map-root-user']
    if (!spec.root) {
      identityNote = `${tools.unshareVersion || 'unshare'} lacks --map-user/--keep-caps: sandboxes run as uid 0 inside (util-linux >= 2.38 keeps your uid)`
    }
  }
  const args = [
    '--pdeathsig', 'KILL', '--',
    tools.unshare, '--user', ...identity,
    '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
    '--uts', '--ipc', '--cgroup', ...(spec.network === 'host' ? [] : ['--net']),
    '--', tools.sh, '-c', INIT_SCRIPT, 'ns-sandbox-init',
    spec.nodePath, ...spec.execArgv, spec.bootstrapPath, spec.configPath
  ]
  return { file: tools.setpriv, args, identityNote }
}
