/** The side-effect report as a few lines for a terminal (`ns-sandbox run --report`). */
import { formatByteSize } from '../options/units.js'
import type { FileChange, ReportArea, SideEffectReport } from './types.js'

export const AREA_LABELS: Record<ReportArea, string> = { home: '$HOME', project: 'project', etc: '/etc', tmp: '/tmp', other: 'other' }
const LIMITS = { oom: 'memory limit hit (OOM kill)', pids: 'pids limit hit', timeout: 'timed out' } as const
export const AREA_ORDER: readonly ReportArea[] = ['project', 'home', 'etc', 'tmp', 'other']

export function plural (count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`
}

export function describeFile (change: FileChange): string {
  const suffix = change.type === 'dir' ? '/' : change.type === 'symlink' ? ' (symlink)' : ''
  const entries = change.entries === undefined ? '' : ` (${plural(change.entries, 'entry', 'entries')})`
  return `${change.path}${suffix}${entries}`
}

export function formatReport (report: SideEffectReport, options: { maxFiles?: number } = {}): string {
  const maxFiles = options.maxFiles ?? 30
  const memory = report.memoryPeakBytes === undefined ? '' : `, memory peak ${formatByteSize(report.memoryPeakBytes)}`
  const lines = [`ns-sandbox report: ${plural(report.files.length, 'file')} changed, ` +
    `${plural(report.processes.length, 'process', 'processes')} left running, ` +
    `${plural(report.ports.length, 'port')} listening${memory}`]
  const files = AREA_ORDER.flatMap((area) => report.files.filter((f) => f.area === area))
  for (const change of files.slice(0, maxFiles)) {
    lines.push(`  ${AREA_LABELS[change.area].padEnd(8)} ${change.kind.padEnd(9)} ${describeFile(change)}`)
  }
  if (files.length > maxFiles) lines.push(`  ... and ${files.length - maxFiles} more (--report-json FILE lists all)`)
  for (const leftover of report.processes) lines.push(`  process  pid ${String(leftover.pid).padEnd(5)} ${leftover.command}`)
  for (const socket of report.ports) {
    const address = socket.address.includes(':') ? `[${socket.address}]` : socket.address
    lines.push(`  port     ${socket.protocol.padEnd(9)} ${address}:${socket.port}`)
  }
  if (report.limitHit !== undefined) lines.push(`  limit    ${LIMITS[report.limitHit]}`)
  for (const note of report.notes) lines.push(`  note     ${note}`)
  return lines.join('\n') + '\n'
}
