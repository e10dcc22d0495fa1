/** The public shapes of cgroup management (re-exported by index.ts). */

export interface CgroupLimits {
  /** memory + swap limit in bytes (no swap beyond it). */
  memoryBytes?: number
  /** Maximum number of processes/threads. */
  pids?: number
  /** CPU bandwidth in cores (1.5 = one and a half cores), at least 0.01. */
  cpus?: number
}

export interface CgroupUsage {
  /** Peak memory use; undefined when no memory limit was set or the kernel cannot tell (v2 before 5.19). */
  memoryPeakBytes?: number
  oomKills: number
  pidsLimitHits: number
}

export interface SandboxCgroup {
  /** cgroup.procs files (one per v1 controller hierarchy, one for v2) the sandboxed process writes "0" into to join, before it runs any test code. */
  readonly procsFiles: string[]
  readonly limits: CgroupLimits
  /** Counters after (or during) the run. After remove(), the counters read just before removal. */
  readUsage(): CgroupUsage
  /** SIGKILL everything still in it (v2: cgroup.kill when present; v1/v2 fallback: read cgroup.procs and kill each pid, repeat until empty, bounded). */
  kill(): void
  /** kill() then rmdir (retry briefly on EBUSY while the kernel reaps); idempotent. Rejects with a SandboxError when a cgroup stays busy. */
  remove(): Promise<void>
}

export interface CgroupEnvironment {
  version: 1 | 2 | 'none'
  /** Human lines for `ns-sandbox doctor`. */
  describe(): string[]
  /** Controllers (memory, pids, cpu) this process cannot use for sandbox limits, with why. */
  unusable(): string[]
}
