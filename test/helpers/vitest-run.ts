/** Vitest run as a subprocess with its JSON reporter, as a given identity: what the Vitest end-to-end tests compare. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { Identity } from './identity.js'

interface JsonFile { name: string, status: string, assertionResults: Array<{ fullName: string, status: string }> }
export interface VitestRun { code: number | null, output: string, report: { testResults: JsonFile[] } | undefined }

/** `vitest run` in `app` with the Vitest at `vitestBin` (its vitest.mjs); the report is `app/report.json`. */
export async function runVitest (app: string, vitestBin: string, args: string[], env: Record<string, string>, who: Identity): Promise<VitestRun> {
  const report = path.join(app, 'report.json')
  fs.rmSync(report, { force: true })
  const command = who.wrap(process.execPath, [vitestBin, 'run', ...args, '--reporter=json', '--outputFile=report.json'])
  const child = spawn(command.file, command.args, {
    cwd: app,
    env: { ...who.env, HOME: who.home, FORCE_COLOR: '0', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => { try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* gone */ } }, 120_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, output, report: fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) as VitestRun['report'] : undefined }
}

/** "file > test name" -> status, for every test of the run. */
export function statusByTest (run: VitestRun, app: string): Record<string, string> {
  assert.ok(run.report !== undefined, `no JSON report was written:\n${run.output}`)
  return Object.fromEntries(run.report.testResults.flatMap((file) =>
    file.assertionResults.map((t) => [`${path.relative(app, file.name)} > ${t.fullName}`, t.status])))
}
