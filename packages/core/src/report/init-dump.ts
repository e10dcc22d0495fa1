/** Parses what the init wrote on the status pipe after the command ended (INIT_REPORT_MARK lines). */
import { INIT_REPORT_MARK } from '../protocol.js'
import { parseProcNet, type ProcNetTable } from './proc-net.js'
import type { LeftoverProcess, ListeningSocket } from './types.js'

const TABLES: readonly ProcNetTable[] = ['tcp', 'tcp6', 'udp', 'udp6']

export interface InitDump {
  processes: LeftoverProcess[]
  sockets: ListeningSocket[]
  /** The init got to the end: false when the sandbox was killed first. */
  complete: boolean
}

function parseProcess (rest: string): LeftoverProcess | undefined {
  const space = rest.indexOf(' ')
  const pid = Number(rest.slice(0, space < 0 ? undefined : space))
  const text = space < 0 ? '' : rest.slice(space + 1)
  // Empty: a zombie (nothing runs any more). `[name]`: no `tr` in the sandbox, only the name.
  if (!Number.isInteger(pid) || text === '') return undefined
  const argv = text.split('\x1f').map((arg) => arg.replaceAll('\x1e', '\n'))
  if (argv.length > 1 && argv[argv.length - 1] === '') argv.pop()
  return { pid, argv, command: argv.join(' ') }
}

export function parseInitDump (lines: readonly string[]): InitDump {
  const processes: LeftoverProcess[] = []
  const tables = new Map<ProcNetTable, string[]>()
  let complete = false
  for (const line of lines) {
    if (!line.startsWith(INIT_REPORT_MARK)) continue
    const body = line.slice(INIT_REPORT_MARK.length)
    const space = body.indexOf(' ')
    const kind = space < 0 ? body : body.slice(0, space)
    const rest = space < 0 ? '' : body.slice(space + 1)
    if (kind === 'end') complete = true
    else if (kind === 'proc') {
      const entry = parseProcess(rest)
      if (entry !== undefined) processes.push(entry)
    } else if ((TABLES as readonly string[]).includes(kind)) {
      const table = kind as ProcNetTable
      tables.set(table, [...(tables.get(table) ?? []), rest])
    }
  }
  const seen = new Set<string>()
  const sockets = TABLES.flatMap((table) => parseProcNet(table, tables.get(table) ?? []))
    .filter((socket) => {
      const key = `${socket.protocol} ${socket.address} ${socket.port}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  return { processes, sockets, complete }
}
