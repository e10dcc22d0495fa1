/**
 * A run's last line of defence. setpriv's pdeathsig and unshare's --kill-child end every
 * sandbox process when the runner dies, even by SIGKILL, but nothing removes a cgroup
 * or a scratch directory by itself. One detached shell per run blocks reading a pipe
 * that only the runner holds; the runner's death closes it, and the shell removes the
 * run's cgroups and scratch. It costs one sleeping process per run, no polling.
 */
import { spawn } from 'node:child_process'

const SCRIPT = `
read _ignored
run_dir="$1"; cgroup_name="$2"; shift 2
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  left=0
  for root in "$@"; do
    for dir in $(find "$root" -maxdepth 6 -type d -name "$cgroup_name" 2>/dev/null); do
      # Sandboxes, their leaves and whatever cgroups a sandbox made below: deepest last to die, first to go.
      for procs in $(find "$dir" -maxdepth 40 -name cgroup.procs 2>/dev/null); do
        for pid in $(cat "$procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      done
      find "$dir" -mindepth 1 -maxdepth 40 -depth -type d -exec rmdir {} + 2>/dev/null
      rmdir "$dir" 2>/dev/null || left=1
    done
  done
  [ "$left" = 0 ] && break
  sleep 0.2
done
if [ -d "$run_dir" ]; then chmod -R u+rwx "$run_dir" 2>/dev/null; rm -rf "$run_dir"; fi
rmdir "$(dirname "$run_dir")" 2>/dev/null
exit 0
`

let started = false

/** Once per run; `cgroupRoots` is read only then (it is on the way to every sandbox's spawn). */
export function startReaper (sh: string, runScratchDir: string, cgroupName: string, cgroupRoots: () => readonly string[]): void {
  if (started) return
  started = true
  const child = spawn(sh, ['-c', SCRIPT, 'ns-sandbox-reaper', runScratchDir, cgroupName, ...cgroupRoots()], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore']
  })
  child.on('error', () => { /* best effort: stale cleanup at the next start covers it */ })
  child.unref()
  const stdin = child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null
  stdin?.unref?.()
}
