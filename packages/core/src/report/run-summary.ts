/**
 * The adapters' run report (`report: true | 'json'`): the side-effect reports of every
 * sandbox of one test run, worst first, as a JSON document and as a few terminal lines.
 * Pure: the adapters collect the reports and write the result (run-output.ts).
 */
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { AREA_LABELS, AREA_ORDER, describeFile, plural } from './summary.js'
import type { FileChange, SideEffectReport } from './types.js'

/** The adapters' option: `true` prints a summary and writes the file, `'json'` only writes it. */
export type RunReportOption = boolean | 'json'

export const RUN_REPORT_FILE = 'ns-sandbox-report.json'
export const RUN_REPORT_VERSION = 1

/** One sandbox's report, as an adapter collected it. */
export interface RunReportEntry {
  /** Absolute paths of the test files it ran: several with one sandbox per worker or lane. */
  testFiles: readonly string[]
  /** The test project, where a run has several. */
  project?: string
  report: SideEffectReport
}

export interface RunReportCounts {
  /** Changed paths outside the temporary areas (/tmp, /var/tmp, /run, /dev/shm). */
  outsideTmp: number
  /** Changed paths inside them: listed, but they do not make a sandbox worse. */
  tmp: number
  processes: number
  ports: number
}

export interface RunReportSandbox {
  /** Relative to the document's root (absolute when outside it). */
  testFiles: string[]
  project?: string
  counts: RunReportCounts
  report: SideEffectReport
}

export interface RunReportDocument {
  version: typeof RUN_REPORT_VERSION
  /** Which adapter wrote it: 'vitest' or 'jest'. */
  tool: string
  /** The run's root directory; test file paths are relative to it. */
  root: string
  createdAt: string
  totals: {
    sandboxes: number
    testFiles: number
    /** Sandboxes that wrote outside the temporary areas, left processes running, left ports listening. */
    wroteOutsideTmp: number
    leftProcesses: number
    leftPorts: number
  }
  /** Worst first: see `severity`. */
  sandboxes: RunReportSandbox[]
}

const ACCEPTED = "true (print a summary after the run and write ns-sandbox-report.json), 'json' (only write the file) or false"

/** Validate the adapters' `report` option; throws NSB_INVALID_OPTION naming the option and its accepted forms. */
export function checkRunReportOption (value: unknown): RunReportOption {
  if (value === undefined) return false
  if (value === true || value === false || value === 'json') return value
  throw new SandboxError('NSB_INVALID_OPTION', `option \`report\`: expected ${ACCEPTED}, got ${JSON.stringify(value) ?? String(value)}`)
}

/** The stronger of two options: a summary wins over the file alone. */
export function strongerRunReportOption (a: RunReportOption, b: RunReportOption): RunReportOption {
  if (a === true || b === true) return true
  return a === 'json' || b === 'json' ? 'json' : false
}

export function countChanges (report: SideEffectReport): RunReportCounts {
  const tmp = report.files.filter((change) => change.area === 'tmp').length
  return { outsideTmp: report.files.length - tmp, tmp, processes: report.processes.length, ports: report.ports.length }
}

/** What ranks a sandbox: every path written outside the temporary areas, process and port left counts one. */
export function severity (counts: RunReportCounts): number {
  return counts.outsideTmp + counts.processes + counts.ports
}

function relativeTo (root: string, file: string): string {
  const relative = path.relative(root, file)
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

export function buildRunReport (input: { tool: string, root: string, entries: readonly RunReportEntry[], createdAt?: Date }): RunReportDocument {
  const sandboxes: RunReportSandbox[] = input.entries.map((entry) => ({
    testFiles: [...entry.testFiles].map((file) => relativeTo(input.root, file)).sort(),
    ...(entry.project === undefined || entry.project === '' ? {} : { project: entry.project }),
    counts: countChanges(entry.report),
    report: entry.report
  }))
  sandboxes.sort((a, b) => severity(b.counts) - severity(a.counts) || b.counts.tmp - a.counts.tmp ||
    (a.testFiles[0] ?? '').localeCompare(b.testFiles[0] ?? ''))
  return {
    version: RUN_REPORT_VERSION,
    tool: input.tool,
    root: input.root,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    totals: {
      sandboxes: sandboxes.length,
      testFiles: new Set(sandboxes.flatMap((s) => s.testFiles)).size,
      wroteOutsideTmp: sandboxes.filter((s) => s.counts.outsideTmp > 0).length,
      leftProcesses: sandboxes.filter((s) => s.counts.processes > 0).length,
      leftPorts: sandboxes.filter((s) => s.counts.ports > 0).length
    },
    sandboxes
  }
}

export interface RunSummaryLimits {
  /** Sandboxes listed (default 10). */
  maxSandboxes?: number
  /** Example lines per sandbox: paths outside the temporary areas, processes, ports (default 4). */
  maxExamples?: number
}

const LIMITS = { oom: 'OOM kill', pids: 'pids limit hit', timeout: 'timed out' } as const

function label (sandbox: RunReportSandbox): string {
  const project = sandbox.project === undefined ? '' : ` [${sandbox.project}]`
  const files = sandbox.testFiles
  if (files.length === 1) return `${files[0]}${project}`
  const more = files.length > 3 ? ` + ${files.length - 3} more` : ''
  return `${files.slice(0, 3).join(', ')}${more} (one sandbox)${project}`
}

function countsText (sandbox: RunReportSandbox): string {
  const { counts, report } = sandbox
  const parts: string[] = []
  if (counts.outsideTmp > 0) parts.push(`${plural(counts.outsideTmp, 'path')} outside /tmp`)
  if (counts.processes > 0) parts.push(`${plural(counts.processes, 'process', 'processes')} left running`)
  if (counts.ports > 0) parts.push(`${plural(counts.ports, 'port')} listening`)
  if (counts.tmp > 0) parts.push(`${counts.tmp} in /tmp`)
  if (report.limitHit !== undefined) parts.push(LIMITS[report.limitHit])
  return parts.join(', ')
}

function examples (report: SideEffectReport, max: number): string[] {
  const outside: FileChange[] = AREA_ORDER.filter((area) => area !== 'tmp').flatMap((area) => report.files.filter((f) => f.area === area))
  const lines = [
    ...outside.map((change) => `${AREA_LABELS[change.area].padEnd(8)} ${change.kind.padEnd(9)} ${describeFile(change)}`),
    ...report.processes.map((p) => `process  pid ${String(p.pid).padEnd(5)} ${p.command}`),
    ...report.ports.map((s) => `port     ${s.protocol.padEnd(9)} ${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`)
  ]
  if (lines.length <= max) return lines
  return [...lines.slice(0, max - 1), `... and ${lines.length - max + 1} more`]
}

/** `3 test files`, or `3 test files in 1 sandbox` when sandboxes ran several. */
function scopeOf ({ totals }: RunReportDocument): string {
  const files = plural(totals.testFiles, 'test file')
  return totals.sandboxes === totals.testFiles ? files : `${files} in ${plural(totals.sandboxes, 'sandbox', 'sandboxes')}`
}

/** The terminal summary: the sandboxes with side effects outside /tmp, worst first, a few examples each. */
export function formatRunSummary (document: RunReportDocument, file: string, limits: RunSummaryLimits = {}): string {
  const maxSandboxes = limits.maxSandboxes ?? 10
  const maxExamples = limits.maxExamples ?? 4
  const { totals } = document
  const worst = document.sandboxes.filter((s) => severity(s.counts) > 0)
  const scope = scopeOf(document)
  const lines = [worst.length === 0
    ? `ns-sandbox report: ${scope}, no writes outside /tmp, no processes or ports left`
    : `ns-sandbox report: ${scope}; ${totals.wroteOutsideTmp} wrote outside /tmp, ` +
      `${totals.leftProcesses} left processes running, ${totals.leftPorts} left ports listening (worst first)`]
  for (const sandbox of worst.slice(0, maxSandboxes)) {
    lines.push(`  ${label(sandbox)}: ${countsText(sandbox)}`)
    for (const example of examples(sandbox.report, maxExamples)) lines.push(`      ${example}`)
  }
  if (worst.length > maxSandboxes) lines.push(`  ... and ${plural(worst.length - maxSandboxes, 'more sandbox', 'more sandboxes')} with side effects`)
  const noted = document.sandboxes.filter((s) => s.report.notes.length > 0)
  if (noted.length > 0) lines.push(`  note: ${plural(noted.length, 'sandbox', 'sandboxes')} with notes, e.g. ${label(noted[0] as RunReportSandbox)}: ${(noted[0] as RunReportSandbox).report.notes[0] ?? ''}`)
  lines.push(`  per-file detail: ${file}`)
  return lines.join('\n') + '\n'
}

/** `report: 'json'`: one line saying where the file is. */
export function formatRunReportLine (document: RunReportDocument, file: string): string {
  const worst = document.sandboxes.filter((s) => severity(s.counts) > 0).length
  return `ns-sandbox report: ${scopeOf(document)}, ${worst} wrote outside /tmp or left processes or ports: ${file}\n`
}
