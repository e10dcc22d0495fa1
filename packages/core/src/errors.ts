/**
 * One error class for everything the sandbox refuses or cannot do. `code` is stable
 * (tests and adapters match on it); the message says what failed, why, and the fix.
 */
export const SANDBOX_ERROR_CODES = [
  'NSB_INVALID_OPTION',
  'NSB_UNSUPPORTED_PLATFORM',
  'NSB_UTIL_LINUX_MISSING',
  'NSB_UTIL_LINUX_TOO_OLD',
  'NSB_PERL_MISSING',
  'NSB_USERNS_DENIED',
  'NSB_APPARMOR_USERNS',
  'NSB_SECCOMP_DENIED',
  'NSB_OVERLAY_UNSUPPORTED',
  'NSB_PROC_UNMOUNTABLE',
  'NSB_MOUNT_FAILED',
  'NSB_SETUP_FAILED',
  'NSB_CGROUP_UNAVAILABLE',
  'NSB_CGROUP_NOT_DELEGATED',
  'NSB_CGROUP_CONTROLLER_MISSING',
  'NSB_SCRATCH_FAILED',
  'NSB_ROOTFS_NOT_FOUND',
  'NSB_ROOTFS_INVALID',
  'NSB_ROOTFS_UNSAFE',
  'NSB_ROOTFS_TOO_LARGE',
  'NSB_ROOTFS_UNSUPPORTED_FORMAT',
  'NSB_ROOTFS_DIGEST_MISMATCH',
  'NSB_FORWARD_FAILED',
  'NSB_NOT_IN_SANDBOX'
] as const

export type SandboxErrorCode = typeof SANDBOX_ERROR_CODES[number]

export class SandboxError extends Error {
  readonly code: SandboxErrorCode
  /** Extra lines (for example the doctor's diagnosis) printed after the message. */
  readonly details: string[]

  constructor (code: SandboxErrorCode, message: string, options: { cause?: unknown, details?: string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SandboxError'
    this.code = code
    this.details = options.details ?? []
  }

  /** The message plus details, as the CLI and the adapters print it. */
  describe (): string {
    return [`${this.code}: ${this.message}`, ...this.details.map((line) => `  ${line}`)].join('\n')
  }

  toJSON (): { code: SandboxErrorCode, message: string, details: string[] } {
    return { code: this.code, message: this.message, details: this.details }
  }

  static fromJSON (value: { code: SandboxErrorCode, message: string, details?: string[] }): SandboxError {
    return new SandboxError(value.code, value.message, { details: value.details ?? [] })
  }
}

export function isSandboxError (value: unknown): value is SandboxError {
  return value instanceof SandboxError
}
