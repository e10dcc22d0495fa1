/** The bootstrap's side of the status pipe: one JSON line per message, written synchronously. */
import { writeSync } from 'node:fs'
import type { StatusMessage } from '../protocol.js'

export class StatusWriter {
  constructor (private readonly fd: number) {}

  send (message: StatusMessage): void {
    try {
      writeSync(this.fd, JSON.stringify(message) + '\n')
    } catch {
      // The host is gone; the process will be killed with the namespace.
    }
  }
}
