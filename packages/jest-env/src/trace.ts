/**
 * Diagnostics: with NS_SANDBOX_JEST_TRACE=/path/file.jsonl the runner appends one JSON
 * line per step (time in ms since the epoch, step, test file, details). The benchmark
 * uses it to tell where the time goes.
 */
import fs from 'node:fs'

const target = process.env.NS_SANDBOX_JEST_TRACE

export function trace (step: string, details: Record<string, unknown> = {}): void {
  if (target === undefined || target === '') return
  try {
    fs.appendFileSync(target, JSON.stringify({ t: Date.now(), pid: process.pid, step, ...details }) + '\n')
  } catch {
    // diagnostics never fail a run
  }
}
