/**
 * The host's side of the status pipe: JSON lines from the init and the bootstrap, each
 * checked field by field and accepted at most once, in the order a real start writes
 * them. Test code never holds the pipe (DESIGN.md, "The status channel"), but with
 * `root: true` the sandbox may ptrace its init and write here: what it can forge is then
 * only its own outcome, never something the host acts on outside the sandbox.
 */
import type { Readable } from 'node:stream'
import { SANDBOX_ERROR_CODES, type SandboxErrorCode } from '../errors.js'
import type { StatusMessage } from '../protocol.js'

type Fields = Record<string, unknown>

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isDuration = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0
const isText = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max
const errorCodes: ReadonlySet<string> = new Set(SANDBOX_ERROR_CODES)

function hasOnly (fields: Fields, names: readonly string[]): boolean {
  return Object.keys(fields).every((name) => names.includes(name))
}

/** A status line as the host accepts it, or undefined (not JSON, unknown type, a field of the wrong shape). */
export function parseStatusLine (line: string): StatusMessage | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined // the init's report lines (INIT_REPORT_MARK) are read by report/init-tap.ts
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const fields = parsed as Fields
  switch (fields.type) {
    case 'started':
      return hasOnly(fields, ['type']) ? { type: 'started' } : undefined
    case 'ready': {
      const phases = fields.phases
      if (!hasOnly(fields, ['type', 'setupMs', 'phases']) || !isDuration(fields.setupMs)) return undefined
      if (typeof phases !== 'object' || phases === null || Array.isArray(phases)) return undefined
      const entries = Object.entries(phases as Fields)
      if (entries.length > 32 || !entries.every(([name, ms]) => isText(name, 64) && isDuration(ms))) return undefined
      return { type: 'ready', setupMs: fields.setupMs, phases: Object.fromEntries(entries) as Record<string, number> }
    }
    case 'error': {
      const { code, message, details } = fields
      if (!hasOnly(fields, ['type', 'code', 'message', 'details'])) return undefined
      if (typeof code !== 'string' || !errorCodes.has(code) || !isText(message, 16_384)) return undefined
      if (!Array.isArray(details) || details.length > 32 || !details.every((detail) => isText(detail, 4096))) return undefined
      return { type: 'error', code: code as SandboxErrorCode, message, details: details as string[] }
    }
    case 'init-exit': {
      const { status, code, signal } = fields
      if (!hasOnly(fields, ['type', 'status', 'code', 'signal']) || !isCount(status) || status > 255) return undefined
      const exited = isCount(code) && code <= 255 && signal === null
      const signalled = code === null && isCount(signal) && signal >= 1 && signal <= 64
      return exited || signalled ? { type: 'init-exit', status, code: code as number | null, signal: signal as number | null } : undefined
    }
    case 'reset': {
      const { ms, kept, staged, error } = fields
      if (!hasOnly(fields, ['type', 'ms', 'kept', 'staged', 'error']) || !isDuration(ms)) return undefined
      if (error !== undefined) return kept === undefined && staged === undefined && isText(error, 16_384) ? { type: 'reset', ms, error } : undefined
      return isCount(kept) && kept <= 4096 && typeof staged === 'boolean' ? { type: 'reset', ms, kept, staged } : undefined
    }
    default:
      return undefined
  }
}

/**
 * Which message may come next: `started` first and once; then at most one `ready` or
 * `error` (an error after `ready` is no setup error); `reset` answers after `ready`;
 * `init-exit` once, last. Anything else is dropped.
 */
export class StatusSequence {
  private readonly seen = new Set<StatusMessage['type']>()

  accepts (message: StatusMessage): boolean {
    const { seen } = this
    // As many as the host asked for (host/sandbox.ts pairs them with its requests), between `ready` and `init-exit`.
    if (message.type === 'reset') return seen.has('ready') && !seen.has('init-exit')
    if (seen.has(message.type) || seen.has('init-exit')) return false
    const allowed = message.type === 'started' ||
      (seen.has('started') && (message.type === 'init-exit' || !(seen.has('ready') || seen.has('error'))))
    // An init that fails before forking PID 2 reports its error first.
    const earlyError = message.type === 'error' && seen.size === 0
    if (!allowed && !earlyError) return false
    seen.add(message.type)
    return true
  }
}

export function readStatusLines (stream: Readable, onMessage: (message: StatusMessage) => void): void {
  const sequence = new StatusSequence()
  let buffered = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buffered += chunk
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      const message = parseStatusLine(line)
      if (message !== undefined && sequence.accepts(message)) onMessage(message)
    }
    // A line without an end is never a status line; keep the buffer bounded.
    if (buffered.length > 1 << 20) buffered = ''
  })
}
