/**
 * What crosses the process boundary between the host (launcher) and the sandbox: the
 * configuration of PID 1 (the init) and of PID 2 (the bootstrap), written by the host on
 * the status pipe, and the status lines both write back on it.
 */
import type { SandboxErrorCode } from './errors.js'
import type { MountStep } from './plan/mount-plan.js'
import type { NetworkMode } from './options/schema.js'
import type { ForwardSpec } from './forward/spec.js'

export type Handover =
  /** execve a command (resolved in the sandbox's PATH); it becomes PID 2. */
  | { kind: 'exec', command: string, args: string[] }
  /** import a Node entry module in-process; process.argv becomes [node, entry, ...args]. */
  | { kind: 'node', entry: string, args: string[] }

/**
 * PID 1's part (inside/init.pl, encoded by host/init-config.ts): everything that needs the
 * namespace's capabilities, done in a process that never runs test code.
 */
export interface InitConfig {
  /** process.arch: the init makes its system calls by number. */
  arch: string
  plan: MountStep[]
  rootDir: string
  hostname: string
  network: NetworkMode
  /** --root: PID 2 keeps the namespace's capabilities (uid 0 inside). */
  keepCapabilities: boolean
  lastCapability: number
  /** cgroup.procs files to write "0" into before PID 2 is forked. */
  cgroupProcs: string[]
  /** Side-effect report: after the command, list leftover processes and sockets. */
  report: boolean
  /** Keep the capabilities and a handle on the host's tree to rebuild the state on `reset` commands. */
  resettable: boolean
  /** Where the plan puts the copy-on-write layers (a reset puts the next ones elsewhere). */
  layersDir: string
  /** Variables the launch chain ran without (or with other values), given back to PID 2: `=value`, or `-` for unset. */
  restoreEnv: Array<[name: string, value: string]>
}

/** PID 2's part, read by the bootstrap (JSON, after PID 1's part on the status fd). */
export interface BootstrapConfig {
  statusFd: number
  /** koffi's prebuilt addon, resolved by the host (dlopen'd directly: ~20 ms cheaper). */
  koffiAddon: string
  cwd: string
  handover: Handover
  /** Port forwards: listen on host:port inside and pass the sockets to the host over the IPC channel. */
  forwards?: ForwardSpec[]
  /** The IPC channel is the caller's too (`ipc: true`); otherwise it exists for the forwards alone and is closed after. */
  keepChannel?: boolean
}

/**
 * What the host accepts on the status pipe (host/status-reader.ts checks every field and
 * the order). Nothing here is trusted for anything outside the sandbox: the host takes no
 * pid from it (host/sandbox-pids.ts finds them in /proc), and the test's process never
 * holds the pipe (the bootstrap closes it before handing over).
 */
export type StatusMessage =
  /** From the init (PID 1): configuration read, cgroups joined, PID 2 forked. */
  | { type: 'started' }
  /** From the bootstrap: filesystem, hostname, network and privileges are in place; test code runs next. */
  | { type: 'ready', setupMs: number, phases: Record<string, number> }
  /** Setup failed; the command never ran. */
  | { type: 'error', code: SandboxErrorCode, message: string, details: string[] }
  /**
   * From the init (PID 1), as it exits: the command's wait status as a shell gives it
   * (128+N for signal N, as unshare will exit), and exactly (`code` when it exited,
   * `signal` number when a signal ended it). Once the pipe has also reached its end,
   * unshare has closed its copy on its way out: everything in the sandbox has ended and
   * only the kernel's namespace teardown is left.
   */
  | { type: 'init-exit', status: number, code: number | null, signal: number | null }
  /**
   * From the init, after a `reset` command (resettable sandboxes): done in `ms`, `kept`
   * copy-on-write layers bound again because nothing had changed them, `staged`: the
   * state built ahead was taken; or failed (the sandbox then ends).
   */
  | { type: 'reset', ms: number, kept: number, staged: boolean } | { type: 'reset', ms: number, error: string }

/**
 * Lines the init (PID 1) writes on the status pipe after the command ended, when a
 * report was asked for: `@nsb proc <pid> <argv joined by \x1f, newlines as \x1e>`,
 * `@nsb <tcp|tcp6|udp|udp6> <a /proc/net line>`, `@nsb end`. Never valid JSON.
 */
export const INIT_REPORT_MARK = '@nsb '

/** Exit status of the bootstrap when setup failed (as `docker run` uses 125). */
export const SETUP_FAILED_STATUS = 125
