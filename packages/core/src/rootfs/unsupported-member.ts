/**
 * Members the import cannot unpack faithfully, refused rather than skipped or written
 * wrong. GNU tar's sparse files (`tar -S`) are the common case: its old format is a
 * member type tar-stream does not know (its data follows a map of the holes), and its
 * PAX forms are regular files with `GNU.sparse.*` records whose data is not the file's
 * content (0.0: only the non-hole bytes; 0.1 and 1.0: under a `GNUSparseFile.<pid>/`
 * name, 1.0 with the map at the front). Unpacked as they are, a file would be missing,
 * truncated or misnamed in the root filesystem.
 */
import { SandboxError } from '../errors.js'
import type { TarHeader } from './tar-reader.js'

const REPACK = 'repack the archive without sparse files (GNU tar: without -S/--sparse)'

/** A refusal naming the member, or undefined when it can be unpacked. */
export function unsupportedMember (header: TarHeader, member: string, archive: string): SandboxError | undefined {
  // tar-stream passes a member's PAX records on; its typings do not say so.
  const pax = (header as TarHeader & { pax?: Record<string, string> }).pax ?? {}
  if (Object.keys(pax).some((key) => key.startsWith('GNU.sparse.'))) {
    const name = pax['GNU.sparse.name'] ?? member
    return new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT', `${archive}: the sparse member ${name} (GNU PAX sparse format) is not supported; ${REPACK}`)
  }
  if (header.type === null) {
    // tar-stream reports every type it does not know as null: GNU sparse ('S') above
    // all; multi-volume, dump-dir and vendor types are as unreadable.
    return new SandboxError('NSB_ROOTFS_UNSUPPORTED_FORMAT',
      `${archive}: the member ${member} has a tar type this import cannot read, most likely a GNU sparse file (old GNU format, type 'S'), which is not supported; ${REPACK}`)
  }
  return undefined
}
