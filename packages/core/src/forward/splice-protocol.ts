/** Messages between the host's main thread and the forward relay thread (splice-worker.ts). */

export interface SpliceWorkerData {
  /** koffi's addon, as the host resolved it. */
  koffiAddon: string
  /** Read end of the pipe the main thread writes to when it has posted a command. */
  wakeFd: number
}

export type RelayCommand =
  /** Join `client` (accepted from the sandbox) and `service` (connected on the host) both ways. */
  | { type: 'join', id: number, client: number, service: number }
  /** Stop moving bytes for `id`; its sockets are the main thread's to close after the `ended` reply. */
  | { type: 'drop', id: number }

export interface RelayEnded {
  type: 'ended'
  id: number
  /** errno name of the failure that ended it (ECONNRESET, EPIPE...), absent for a clean end both ways. */
  error?: string
}
