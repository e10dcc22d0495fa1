/**
 * The launch chain as an argv (see DESIGN.md):
 *   setpriv --pdeathsig KILL          dies with the runner's thread that spawned it
 *   unshare --user ... --fork --kill-child   namespaces from a single-threaded process
 *   perl -f init.pl STATUS_FD ...      PID 1: cgroup, mount plan, pivot_root, its own privileges
 *                                      dropped; then waits in the foreground and reaps orphans
 *     node [execArgv] bootstrap.cjs STATUS_FD SYNC_FD   PID 2, forked by the init without
 *                                      capabilities: cwd, forwards, then the command or entry
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
  /** PID 1: inside/init.pl, run by perl. */
  initPath: string
  /**
   * The status pipe's fd: the host writes the init's and the bootstrap's configuration
   * there (then ends its side); both report on it.
   */
  statusFd: number
}

/**
 * The launch chain's environment: the command's, with LC_ALL=C and no PERL* variables,
 * and what PID 2 gives back before it execs Node. setpriv, unshare and perl call
 * setlocale(); with LANG=C.UTF-8 and no locale archive each reads ~15 locale files, 0.8 ms
 * of every start here (paired, n=300). PERL5OPT, PERL5LIB or PERLIO would change how the
 * init itself runs.
 */
export function chainEnvironment (commandEnv: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv, restore: Array<[string, string]> } {
  const env: NodeJS.ProcessEnv = { ...commandEnv, LC_ALL: 'C' }
  const restore: Array<[string, string]> = [['LC_ALL', commandEnv.LC_ALL === undefined ? '-' : `=${commandEnv.LC_ALL}`]]
  for (const [name, value] of Object.entries(commandEnv)) {
    if (!name.startsWith('PERL') || value === undefined) continue
    delete env[name]
    restore.push([name, `=${value}`])
  }
  return { env, restore }
}

function mapFlags (tools: LaunchTools, spec: LaunchSpec): string[] {
  if (spec.root) return ['--map-root-user']
  if (tools.hasMapCurrentUser) return ['--map-current-user']
  return [`--map-user=${spec.uid}`, `--map-group=${spec.gid}`]
}

export function buildLaunchCommand (tools: LaunchTools, spec: LaunchSpec): { file: string, args: string[], identityNote?: string } {
  let identity: string[]
  let identityNote: string | undefined
  if (tools.hasMapUser && tools.hasKeepCaps) {
    // unshare looks the value of --map-user/--map-group up as a name first (NSS: passwd,
    // group, maybe libnss_systemd: ~0.7 ms per start); the flags without a value map the
    // same ids with no lookup.
    identity = [...mapFlags(tools, spec), '--keep-caps']
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
    // -f: no sitecustomize.pl. The init appends the status and sync fds to Node's argv.
    '--', tools.perl, '-f', spec.initPath, String(spec.statusFd),
    spec.nodePath, ...spec.execArgv, spec.bootstrapPath
  ]
  return { file: tools.setpriv, args, identityNote }
}
