/**
 * "Am I inside a sandbox the runner started?" The environment asks before any test
 * code can run. All of these must hold:
 *
 * 1. NS_SANDBOX_JEST is set (by the runner's child entry) and parses;
 * 2. this process is PID 2 of its PID namespace (the sandbox's command; on a host
 *    PID 2 is kthreadd, and a container's PID 2 does not set 1.);
 * 3. PID 1's command line is the sandbox's init (it names itself `ns-sandbox-init`),
 *    which only an own PID namespace can arrange;
 * 4. the host name is the one the runner gave the sandbox.
 *
 * 1. alone could leak into a process started by hand with the runner's environment;
 * 2.-4. cannot be arranged without creating namespaces.
 */
import fs from 'node:fs'
import os from 'node:os'
import { FACTS_VARIABLE, type SandboxFacts } from './protocol'

export const INIT_NAME = 'ns-sandbox-init'

export interface SandboxCheck {
  facts: SandboxFacts | undefined
  /** Empty when inside; otherwise what did not hold. */
  problems: string[]
}

export function readFacts (env: NodeJS.ProcessEnv = process.env): SandboxFacts | undefined {
  const raw = env[FACTS_VARIABLE]
  if (raw === undefined || raw === '') return undefined
  try {
    const facts = JSON.parse(raw) as SandboxFacts
    return typeof facts === 'object' && facts !== null && typeof facts.hostname === 'string' ? facts : undefined
  } catch {
    return undefined
  }
}

function initCommandLine (): string[] {
  try {
    return fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0')
  } catch {
    return []
  }
}

export function checkSandbox (): SandboxCheck {
  const facts = readFacts()
  const problems: string[] = []
  if (facts === undefined) problems.push(`${FACTS_VARIABLE} is not set (the runner's child sets it)`)
  if (process.pid !== 2) problems.push(`this process is PID ${process.pid}, not PID 2 of a sandbox's PID namespace`)
  if (!initCommandLine().includes(INIT_NAME)) problems.push(`PID 1 is not the sandbox's init (${INIT_NAME})`)
  if (facts !== undefined && os.hostname() !== facts.hostname) {
    problems.push(`the host name is ${os.hostname()}, not the sandbox's ${facts.hostname}`)
  }
  return { facts: problems.length === 0 ? facts : undefined, problems }
}

export function notSandboxedMessage (testPath: string | undefined, problems: readonly string[]): string {
  return [
    'jest-environment-ns-sandbox: this test file is not running inside a sandbox, so none of its code was run' +
      (testPath === undefined ? '.' : ` (${testPath}).`),
    'The environment needs the runner that starts one sandbox per test file. Configure it, for example in jest.config.js:',
    "  module.exports = { preset: 'jest-environment-ns-sandbox' }",
    'or keep your own preset and testEnvironment and add just the runner (every file is then sandboxed):',
    "  module.exports = { preset: 'ts-jest', runner: 'jest-environment-ns-sandbox/runner' }",
    `(checked: ${problems.join('; ')})`
  ].join('\n')
}
