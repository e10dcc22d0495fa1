/**
 * The launch chain as an argv (see DESIGN.md):
 *   setpriv --pdeathsig KILL          dies with the runner's thread that spawned it
 *   unshare --user ... --fork --kill-child   namespaces from a single-threaded process
 *   /bin/sh -c INIT_SCRIPT             PID 1: waits in the foreground, reaps orphans; gives the command its locale back
 *   node [execArgv] bootstrap.cjs STATUS_FD  PID 2: reads its config there; mounts, pivot_root, drops privileges
 */
import type { NetworkMode } from '../options/schema.js'
import { INIT_REPORT_MARK } from '../protocol.js'
import type { LaunchTools } from './tools.js'

export interface LaunchSpec {
  uid: number
  gid: number
  root: boolean
  network: NetworkMode
  nodePath: string
  execArgv: readonly string[]
  bootstrapPath: string
  /**
   * The status pipe's fd: the host writes the bootstrap's configuration there (then ends
   * its side), the bootstrap reports its progress, PID 1 the command's status as it exits.
   */
  statusFd: number
  /** Side-effect report: PID 1 also lists leftover processes and sockets on the status fd. */
  report: boolean
  /** The command's own LC_ALL (undefined: unset); the chain runs with LC_ALL=C. */
  commandLocale: string | undefined
}

/**
 * The launch chain's environment: the command's, with LC_ALL=C. setpriv and unshare call
 * setlocale(); with LANG=C.UTF-8 and no locale archive each reads ~15 locale files, 0.8 ms
 * of every start here (paired, n=300). PID 1 restores the command's LC_ALL before the
 * command (or the sandbox's Node, whose ICU reads it at start) runs.
 */
export function chainEnvironment (commandEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...commandEnv, LC_ALL: 'C' }
}

/** $2 of PID 1's script: `=value` for the command's LC_ALL, `-` for none. */
function encodeLocale (locale: string | undefined): string {
  return locale === undefined ? '-' : `=${locale}`
}

/**
 * PID 1's script. A foreground command keeps the terminal's process group and stdin
 * (a background job would get /dev/null and ignore SIGINT); while dash waits for it,
 * it reaps every child, orphans included. The command runs as an exec'd subshell (so it
 * is PID 2) with the caller's stderr on fd 9, while the init's own stderr goes to
 * /dev/null: dash would otherwise print "Killed" onto the test's output whenever the
 * command dies by a signal. The trailing `exit` keeps the init alive until then. The
 * subshell first gives the command its own LC_ALL back ($l, see chainEnvironment).
 */
const RESTORE_LOCALE = 'case $l in =*) LC_ALL=${l#=}; export LC_ALL;; *) unset LC_ALL;; esac'
const RUN_COMMAND = `exec 9>&2 2>/dev/null; (${RESTORE_LOCALE}; exec "$@" 2>&9 9>&-)`
/** The last words of PID 1 on the status fd ($f), see the `init-exit` status message. */
const INIT_EXIT_LINE = `printf '{"type":"init-exit","status":%d}\\n' "$s" >&"$f"`
/** $1: the status fd, $2: the command's LC_ALL (arguments, never variables the command would see). */
export const INIT_SCRIPT = `f=$1; l=$2; shift 2; ${RUN_COMMAND}; s=$?; ${INIT_EXIT_LINE}; exit $s`

/**
 * PID 1's script when a report is asked for ($1, $2 as for INIT_SCRIPT). The same wait;
 * then, before the namespace ends, the processes still running and the /proc/net socket
 * tables go to the status fd (see INIT_REPORT_MARK). `tr` turns argv's NULs and newlines
 * into bytes that cannot break the line protocol; without `tr` (a bare rootfs) the
 * shell's own `read` gets the name.
 */
export const REPORT_INIT_SCRIPT = [
  `f=$1; l=$2; shift 2; ${RUN_COMMAND}; s=$?`,
  '{ for p in /proc/[0-9]*; do p=${p#/proc/}; [ "$p" = 1 ] && continue',
  `printf '${INIT_REPORT_MARK}proc %s ' "$p"`,
  "tr '\\000\\n' '\\037\\036' < /proc/$p/cmdline || { read -r c < /proc/$p/comm && printf '[%s]' \"$c\"; }",
  'echo; done',
  `for t in tcp tcp6 udp udp6; do [ -r /proc/net/$t ] && while read -r l; do printf '${INIT_REPORT_MARK}%s %s\\n' $t "$l"; done < /proc/net/$t; done`,
  `echo '${INIT_REPORT_MARK}end'; } >&"$f" 2>/dev/null; ${INIT_EXIT_LINE}; exit $s`
].join('\n')

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
    '--', tools.sh, '-c', spec.report ? REPORT_INIT_SCRIPT : INIT_SCRIPT, 'ns-sandbox-init', String(spec.statusFd), encodeLocale(spec.commandLocale),
    spec.nodePath, ...spec.execArgv, spec.bootstrapPath, String(spec.statusFd)
  ]
  return { file: tools.setpriv, args, identityNote }
}
