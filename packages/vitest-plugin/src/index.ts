/** @ns-sandbox/vitest: every Vitest test file in its own Linux sandbox. */
export { nsSandbox } from './plugin.js'
export { sandboxPool, isSandboxPool, POOL_NAME, type SandboxPool } from './pool.js'
export { NsSandboxConfigError, type NsSandboxOptions } from './options.js'
