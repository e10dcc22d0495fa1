/** The host's side of the status pipe: parses the bootstrap's JSON lines. */
import type { Readable } from 'node:stream'
import type { StatusMessage } from '../protocol.js'

export function readStatusLines (stream: Readable, onMessage: (message: StatusMessage) => void): void {
  let buffered = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buffered += chunk
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line === '') continue
      try {
        onMessage(JSON.parse(line) as StatusMessage)
      } catch {
        // Not ours: the pipe is private to the bootstrap, so ignore rather than fail the run.
      }
    }
  })
}
