/**
 * A sandbox's processes as the host's kernel names them. The host only knows its own
 * child, the launcher (setpriv exec'd unshare, same pid); the init is the launcher's
 * child and the command is the init's child that is PID 2 in the sandbox's namespace.
 * Read from /proc, never from the sandbox: a pid the sandbox could write would let test
 * code have the runner signal any process of the host (issue #16).
 *
 * This kernel may lack /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN), so the
 * parents are read from every process's stat: a few ms on a busy host, only when a
 * signal is to be forwarded.
 */
import fs from 'node:fs'

/** The parent pid from the text of /proc/<pid>/stat; the comm field may hold spaces and ')'. */
export function parentOfStat (text: string): number | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const parent = Number(text.slice(close + 1).trim().split(' ')[1])
  return Number.isSafeInteger(parent) ? parent : undefined
}

/** The NSpid line of /proc/<pid>/status: the pid in each PID namespace, outermost first. */
export function namespacePids (statusText: string): number[] {
  const line = statusText.split('\n').find((entry) => entry.startsWith('NSpid:'))
  return line === undefined ? [] : line.slice('NSpid:'.length).trim().split(/\s+/).map(Number)
}

function readQuietly (file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Every process's parent, read once. */
function parents (): Map<number, number> {
  const table = new Map<number, number>()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const parent = parentOfStat(readQuietly(`/proc/${name}/stat`) ?? '')
    if (parent !== undefined) table.set(Number(name), parent)
  }
  return table
}

/** Whether host pid `pid` is `inner` in the innermost PID namespace it lives in. */
function isSandboxPid (pid: number, inner: number): boolean {
  const pids = namespacePids(readQuietly(`/proc/${pid}/status`) ?? '')
  return pids.length >= 2 && pids[pids.length - 1] === inner
}

/** The host pid of the sandbox's command (PID 2 inside), or undefined when it is not running. */
export function findCommandPid (launcherPid: number): number | undefined {
  const table = parents()
  const childOf = (parent: number, inner: number): number | undefined =>
    [...table].find(([pid, ppid]) => ppid === parent && isSandboxPid(pid, inner))?.[0]
  const init = childOf(launcherPid, 1)
  return init === undefined ? undefined : childOf(init, 2)
}
