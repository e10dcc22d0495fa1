/** `ns-sandbox doctor`: every prerequisite, ok or missing, with the exact fix. */
import { parseArgs } from 'node:util'
import { runAllChecks } from '../doctor/checks.js'

const USAGE = 'Usage: ns-sandbox doctor [--json]'

export function runDoctorCommand (argv: string[], io: { stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream }): number {
  let json: boolean
  try {
    json = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true }).values.json === true
  } catch (error) {
    io.stderr.write(`ns-sandbox doctor: ${(error as Error).message}\n${USAGE}\n`)
    return 2
  }
  const results = runAllChecks()
  if (json) {
    io.stdout.write(JSON.stringify(results, null, 2) + '\n')
  } else {
    for (const check of results) {
      io.stdout.write(`${check.ok ? 'ok     ' : 'MISSING'} ${check.name}: ${check.summary}\n`)
      if (!check.ok) {
        if (check.code !== undefined) io.stdout.write(`        error code: ${check.code}\n`)
        for (const line of check.fix ?? []) io.stdout.write(`        fix: ${line}\n`)
      }
    }
  }
  return results.every((check) => check.ok) ? 0 : 1
}
