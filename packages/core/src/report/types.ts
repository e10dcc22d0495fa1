/** The side-effect report: what a sandbox changed and left behind, as the host saw it after the end. */
import type { KillReason } from '../host/exit-status.js'

export type ChangeKind =
  /** Absent on the host. */
  | 'created'
  /** Present on the host: content or metadata written. */
  | 'modified'
  /** Present on the host, removed inside. */
  | 'deleted'
  /** Removed and made again (a directory's host entries are gone), or a file turned directory. */
  | 'replaced'

/** `project` is the sandbox's cwd; `tmp` covers /tmp, /var/tmp, /run and /dev/shm. */
export type ReportArea = 'home' | 'project' | 'etc' | 'tmp' | 'other'

export type EntryType = 'file' | 'dir' | 'symlink' | 'other'

export interface FileChange {
  /** The path as the sandbox saw it (the host path, for the host view). */
  path: string
  kind: ChangeKind
  area: ReportArea
  type: EntryType
  /** A created directory is listed once, with the number of entries below it. */
  entries?: number
}

export interface LeftoverProcess {
  /** Pid inside the sandbox. */
  pid: number
  argv: string[]
  command: string
}

export interface ListeningSocket {
  protocol: 'tcp' | 'udp'
  address: string
  port: number
}

export interface SideEffectReport {
  files: FileChange[]
  /** Still running when the command ended (then killed with the sandbox). */
  processes: LeftoverProcess[]
  /** Listening TCP and bound UDP sockets at that moment. */
  ports: ListeningSocket[]
  memoryPeakBytes?: number
  limitHit?: KillReason
  /** What the report could not see, and why. */
  notes: string[]
}
