/** A config the plugin refuses: Vitest prints it and runs no test file. */
export class NsSandboxConfigError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(`[ns-sandbox] ${message}`, options)
    this.name = 'NsSandboxConfigError'
  }
}
