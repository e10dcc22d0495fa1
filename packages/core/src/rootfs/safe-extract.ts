/**
 * Tar entries -> a TreeWriter, with the import's safety rules:
 *
 * - names are normalised by `entryPathParts` (leading `/` stripped, `..` refused);
 * - regular files, directories, symlinks (any target: they are resolved inside the
 *   sandbox's root later) and hard links (only to earlier members) are created;
 * - device nodes and FIFOs are skipped with one warning (the sandbox provides /dev);
 * - sparse members and members of unknown type are refused (unsupported-member.ts);
 * - setuid/setgid bits of files are dropped unless `allowSetuid` (one warning);
 * - the entry count and the unpacked bytes are limited (ExtractBudget);
 * - in image layers, whiteouts are applied: `.wh.<name>` removes `<name>` from lower
 *   layers, `.wh..wh..opq` hides everything lower layers put in its directory.
 */
import { SandboxError } from '../errors.js'
import { entryPathParts, joinParts } from './entry-path.js'
import { readTar } from './tar-reader.js'
import { unsupportedMember } from './unsupported-member.js'
import type { EntryBody, TarHeader } from './tar-reader.js'
import type { TreeWriter, EntryMeta } from './tree-writer.js'
import type { ExtractBudget } from './limits.js'
import type { ImportWarnings } from './warnings.js'

export interface ExtractTarOptions {
  /** Names the archive (or layer) in messages. */
  archive: string
  writer: TreeWriter
  budget: ExtractBudget
  warnings: ImportWarnings
  allowSetuid: boolean
  /** Apply OCI / AUFS whiteouts (image layers); plain archives keep `.wh.` files as they are. */
  layer: boolean
}

const WHITEOUT_PREFIX = '.wh.'
const OPAQUE_MARKER = '.wh..wh..opq'
const SPECIAL_BITS = 0o6000

export async function extractTar (tar: AsyncIterable<Buffer>, options: ExtractTarOptions): Promise<void> {
  const { archive, writer, budget, warnings } = options
  /** Layer mode: paths this layer wrote (with their ancestors), which its whiteouts never hide. */
  const touched = new Set<string>([''])
  const opaqueDirs: string[][] = []

  const touch = (parts: readonly string[]): void => {
    for (let length = parts.length; length > 0; length--) {
      const key = parts.slice(0, length).join('/')
      if (touched.has(key)) return
      touched.add(key)
    }
  }

  const handleWhiteout = async (parts: string[], member: string): Promise<void> => {
    const base = parts[parts.length - 1] as string
    const dir = parts.slice(0, -1)
    if (base === OPAQUE_MARKER) {
      opaqueDirs.push(dir)
      touch(dir)
      return
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return // other AUFS metadata (.wh..wh.plnk ...)
    const name = base.slice(WHITEOUT_PREFIX.length)
    if (name === '' || name === '.' || name === '..') {
      throw new SandboxError('NSB_ROOTFS_UNSAFE',
        `${archive}: the whiteout ${member} would delete ${JSON.stringify(name)}, a directory itself or its parent, not an entry of it; refusing to apply the layer. The image is corrupt or hostile: re-export it`)
    }
    const hidden = [...dir, name]
    if (touched.has(hidden.join('/'))) return // whiteouts only hide what lower layers put there
    await writer.remove(hidden, member)
  }

  /** Removes what lower layers left in an opaque directory, keeping what this layer wrote. */
  const clearOpaque = async (dir: readonly string[], member: string): Promise<void> => {
    for (const child of await writer.list(dir, member)) {
      const parts = [...dir, child.name]
      if (!touched.has(parts.join('/'))) await writer.remove(parts, member)
      else if (child.isDirectory) await clearOpaque(parts, member)
    }
  }

  const onEntry = async (header: TarHeader, body: EntryBody): Promise<void> => {
    budget.addEntry()
    const parts = entryPathParts(header.name, archive)
    const member = joinParts(parts)
    const refused = unsupportedMember(header, member, archive)
    if (refused !== undefined) throw refused
    const base = parts[parts.length - 1]
    if (options.layer && base !== undefined && base.startsWith(WHITEOUT_PREFIX)) {
      await handleWhiteout(parts, member)
      await body.skip()
      return
    }
    if (options.layer) touch(parts)
    const meta: EntryMeta = {
      mode: (header.mode ?? 0) & 0o7777,
      mtime: header.mtime instanceof Date && !Number.isNaN(header.mtime.getTime()) ? header.mtime : undefined,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0
    }
    switch (header.type) {
      case 'file':
      case 'contiguous-file': {
        if ((meta.mode & SPECIAL_BITS) !== 0 && !options.allowSetuid) {
          meta.mode &= ~SPECIAL_BITS
          warnings.add('setuid', member, (count, examples) =>
            `dropped the setuid/setgid bits of ${count} file${count === 1 ? '' : 's'} (${examples}); pass allowSetuid (--allow-setuid) to keep them`)
        }
        budget.addFileBytes(header.size ?? 0, member)
        await writer.writeFile(parts, member, body, meta)
        return
      }
      case 'directory':
        await writer.mkdir(parts, member, meta)
        break
      case 'symlink': {
        const target = header.linkname ?? ''
        if (target === '' || target.includes('\0')) {
          throw new SandboxError('NSB_ROOTFS_INVALID',
            `${archive}: the symlink ${member} has an empty or invalid target; the archive is corrupt: re-create it`)
        }
        await writer.symlink(parts, member, target, meta)
        break
      }
      case 'link': {
        const targetName = header.linkname ?? ''
        await writer.hardlink(parts, member, entryPathParts(targetName, archive), targetName)
        break
      }
      case 'character-device':
      case 'block-device':
        warnings.add('device', member, (count, examples) =>
          `skipped ${count} device node${count === 1 ? '' : 's'} (${examples}): device nodes are never imported, the sandbox provides a fresh /dev`)
        break
      case 'fifo':
        warnings.add('fifo', member, (count, examples) =>
          `skipped ${count} FIFO${count === 1 ? '' : 's'} (${examples}): FIFOs are not imported; create them at run time (mkfifo) if a test needs one`)
        break
      default:
        warnings.add(`type:${String(header.type)}`, member, (count, examples) =>
          `skipped ${count} member${count === 1 ? '' : 's'} of unsupported tar type ${String(header.type)} (${examples})`)
    }
    await body.skip()
  }

  await readTar(tar, archive, onEntry)

  for (const dir of opaqueDirs) await clearOpaque(dir, joinParts([...dir, OPAQUE_MARKER]))
}
