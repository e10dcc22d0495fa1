/** Archive-bomb limits: total unpacked file bytes and number of entries. */
import { SandboxError } from '../errors.js'
import { formatByteSize as formatUnits } from '../options/units.js'

function formatByteSize (bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${formatUnits(bytes)} (${bytes} bytes)`
}

export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3
export const DEFAULT_MAX_ENTRIES = 1_000_000

/** Slack for tar headers, padding and pax records on top of the file bytes. */
const HEADER_ALLOWANCE_PER_ENTRY = 4096
const STREAM_SLACK = 1024 * 1024

export class ExtractBudget {
  readonly maxBytes: number
  readonly maxEntries: number
  readonly what: string
  bytes = 0
  entries = 0
  private streamBytes = 0

  /** `what` names what is unpacked, for example `busybox.tar.gz` or `layer 2 of busybox.tar`. */
  constructor (what: string, maxBytes = DEFAULT_MAX_BYTES, maxEntries = DEFAULT_MAX_ENTRIES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new SandboxError('NSB_INVALID_OPTION', `maxBytes must be a non-negative integer, got ${String(maxBytes)}`)
    }
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
      throw new SandboxError('NSB_INVALID_OPTION', `maxEntries must be a non-negative integer, got ${String(maxEntries)}`)
    }
    this.what = what
    this.maxBytes = maxBytes
    this.maxEntries = maxEntries
  }

  /** Accounts for one more archive entry. */
  addEntry (): void {
    this.entries += 1
    if (this.entries > this.maxEntries) {
      throw new SandboxError('NSB_ROOTFS_TOO_LARGE',
        `${this.what} has more than ${this.maxEntries} entries (the maxEntries limit); stopped unpacking it as a possible archive bomb. If the archive is trusted, raise the limit with the maxEntries option (--max-entries on the command line)`)
    }
  }

  /** Accounts for a file's bytes before they are written. */
  addFileBytes (size: number, member: string): void {
    this.bytes += size
    if (this.bytes > this.maxBytes) {
      throw new SandboxError('NSB_ROOTFS_TOO_LARGE',
        `${this.what} unpacks to more than the maxBytes limit of ${formatByteSize(this.maxBytes)} (reached at ${member}); stopped unpacking it as a possible archive bomb. If the archive is trusted, raise the limit with the maxBytes option (--max-bytes on the command line)`)
    }
  }

  /** Accounts for decompressed tar stream bytes (headers and padding included). */
  addStreamBytes (size: number): void {
    this.streamBytes += size
    const allowed = this.maxBytes + HEADER_ALLOWANCE_PER_ENTRY * (this.entries + 1) + STREAM_SLACK
    if (this.streamBytes > allowed) {
      throw new SandboxError('NSB_ROOTFS_TOO_LARGE',
        `${this.what} decompresses to more than ${formatByteSize(allowed)} of tar data for ${this.entries} entries and ${formatByteSize(this.bytes)} of files (the maxBytes limit is ${formatByteSize(this.maxBytes)}); stopped as a possible archive bomb. If the archive is trusted, raise the limit with the maxBytes option (--max-bytes on the command line)`)
    }
  }
}
