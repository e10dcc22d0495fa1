/**
 * The end of a run with the adapters' `report` option: write ns-sandbox-report.json in
 * the run's root and print the summary (`true`) or one line naming the file (`'json'`).
 */
import fs from 'node:fs'
import path from 'node:path'
import { RUN_REPORT_FILE, buildRunReport, formatRunReportLine, formatRunSummary, type RunReportEntry, type RunReportOption } from './run-summary.js'

export interface EmitRunReportInput {
  option: RunReportOption
  tool: string
  root: string
  entries: readonly RunReportEntry[]
  /** Where the text goes (the adapters pass their stderr). */
  print: (text: string) => void
}

/** Returns the file's path, or undefined when the option is off or the file could not be written (then said). */
export function emitRunReport (input: EmitRunReportInput): string | undefined {
  if (input.option === false) return undefined
  const document = buildRunReport({ tool: input.tool, root: input.root, entries: input.entries })
  const file = path.join(input.root, RUN_REPORT_FILE)
  let written: string | undefined = file
  try {
    // Written whole, then renamed: a watcher or a reader never sees half a document.
    const partial = `${file}.${process.pid}.tmp`
    fs.writeFileSync(partial, JSON.stringify(document, null, 2) + '\n')
    fs.renameSync(partial, file)
  } catch (error) {
    written = undefined
    input.print(`ns-sandbox report: could not write ${file}: ${(error as Error).message}\n`)
  }
  const where = written ?? '(not written)'
  input.print(input.option === true ? formatRunSummary(document, where) : formatRunReportLine(document, where))
  return written
}
