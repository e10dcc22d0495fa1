/**
 * `testEnvironment: 'ns-sandbox'`: jest-environment-node's TestEnvironment, from the
 * same Jest as the runner, that refuses to exist outside a sandbox. Inside, tests see
 * a frozen `nsSandbox` global with facts about their sandbox.
 */
import { createRequire } from 'node:module'
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment'
import type NodeEnvironment from 'jest-environment-node'
import { checkSandbox, notSandboxedMessage, readFacts } from './sandbox-check'
import type { SandboxFacts } from './protocol'

export type { SandboxFacts, Isolation } from './protocol'

/** What `testEnvironmentOptions.sandbox`, the runner's options and docblocks accept. */
export type JestSandboxOptions = Omit<import('@ns-sandbox/core').SandboxOptions, 'report'> & {
  isolation?: import('./protocol').Isolation
  /** After the run: `true` prints a summary of the side effects and writes ns-sandbox-report.json in rootDir; `'json'` only writes it. */
  report?: import('@ns-sandbox/core').RunReportOption
}

type NodeEnvironmentClass = typeof NodeEnvironment

/** jest-environment-node of the Jest that runs the file (the runner's), else ours. */
function loadBase (): NodeEnvironmentClass {
  const facts = readFacts()
  const loaders = facts === undefined ? [require] : [createRequire(facts.jestRunner), require]
  for (const load of loaders) {
    try {
      const loaded = load('jest-environment-node') as { TestEnvironment?: NodeEnvironmentClass, default?: NodeEnvironmentClass }
      const base = loaded.TestEnvironment ?? loaded.default
      if (typeof base === 'function') return base
    } catch {
      // try the next one; outside a sandbox the constructor refuses anyway
    }
  }
  // Without jest-environment-node nothing can run: the constructor below throws first.
  return class Unavailable {} as unknown as NodeEnvironmentClass
}

const Base = loadBase()

export class NsSandboxEnvironment extends Base {
  constructor (config: JestEnvironmentConfig, context: EnvironmentContext) {
    const check = checkSandbox()
    if (check.facts === undefined) {
      const error = new Error(notSandboxedMessage(context.testPath, check.problems)) as Error & { code: string }
      error.code = 'NSB_NOT_IN_SANDBOX'
      error.stack = ''
      throw error
    }
    super(config, context)
    const facts: Readonly<SandboxFacts> = Object.freeze({
      ...check.facts,
      lane: Number(process.env.JEST_WORKER_ID ?? check.facts.lane),
      live: Object.freeze([...check.facts.live]) as string[]
    })
    Object.defineProperty(this.global, 'nsSandbox', { value: facts, enumerable: false, writable: false, configurable: false })
  }
}

export const TestEnvironment = NsSandboxEnvironment
export default NsSandboxEnvironment
