/**
 * Keeps the init's report lines (INIT_REPORT_MARK) from the status pipe. A second
 * listener beside the JSON status reader, which skips these lines as not JSON.
 */
import type { Readable } from 'node:stream'
import { INIT_REPORT_MARK } from '../protocol.js'

export function tapInitLines (stream: Readable): () => string[] {
  const lines: string[] = []
  let buffered = ''
  const keep = (line: string): void => { if (line.startsWith(INIT_REPORT_MARK)) lines.push(line) }
  stream.on('data', (chunk: string | Buffer) => {
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      keep(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
    }
  })
  return () => {
    keep(buffered)
    buffered = ''
    return lines
  }
}
