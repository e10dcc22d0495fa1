/**
 * The bootstrap's side of the status pipe: one JSON line per message, written
 * synchronously, and closed before test code runs (test code must never hold the pipe).
 */
import { closeSync, writeSync } from 'node:fs'
import { isLibcLoaded, writeText } from '../ffi/libc.js'
import type { StatusMessage } from '../protocol.js'

export class StatusWriter {
  constructor (private readonly fd: number) {}

  send (message: StatusMessage): void {
    const line = JSON.stringify(message) + '\n'
    try {
      // libc once koffi is loaded (cheaper on a cold start); Node's for an early failure
      if (isLibcLoaded()) writeText(this.fd, line)
      else writeSync(this.fd, line)
    } catch {
      // The host is gone; the process will be killed with the namespace.
    }
  }

  close (): void {
    closeSync(this.fd)
  }
}
