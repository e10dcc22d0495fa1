/**
 * Hostile and broken archives: each case asserts the error code, that nothing changed
 * outside the cache, and that the cache holds no partial entry and no temp directory.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import type { SandboxErrorCode } from '../src/errors.js'
import { importRootfs, listRootfs, removeRootfs } from '../src/rootfs/index.js'
import type { RootfsImportOptions } from '../src/rootfs/index.js'
import { buildTar, gzip, writeTar, FIXED_MTIME } from '../../../fixtures/rootfs/tar-builder.js'
import type { TarEntrySpec } from '../../../fixtures/rootfs/tar-builder.js'
import { isCode } from './helpers/errors.js'
import { withWorkspace as withFreshWorkspace } from '../../../fixtures/rootfs/workspace.js'
import type { Workspace } from '../../../fixtures/rootfs/workspace.js'
import { needsMachine } from '../../../test/helpers/machine.js'

const isRoot = process.getuid?.() === 0
/** GNU tar writes the sparse archives of the sparse test (`tar -S`). */
const gnuTarMissing = needsMachine(/GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout ?? '') ? false : 'GNU tar (apt-get install tar)')

const withWorkspace = (run: (ws: Workspace) => Promise<void>): Promise<void> => withFreshWorkspace('nsb-rootfs-', run)


/** Imports `archive` expecting `code`; proves nothing changed outside the cache and nothing is left in it. */
async function expectRefused (ws: Workspace, archive: string, code: SandboxErrorCode, message?: RegExp, options: RootfsImportOptions = {}): Promise<void> {
  const before = await ws.snapshotOutsideCache()
  await assert.rejects(importRootfs(archive, { cacheDir: ws.cacheDir, ...options }), isCode(code, message))
  assert.deepEqual(await ws.snapshotOutsideCache(), before, 'nothing outside the cache may change')
  assert.deepEqual(await ws.cacheListing(), [], 'the cache must hold no entry and no temp directory')
  assert.equal(await fs.readFile(path.join(ws.outside, 'sentinel'), 'utf8'), 'untouched\n')
}

async function tarFile (ws: Workspace, entries: TarEntrySpec[], options: { gzip?: boolean, name?: string } = {}): Promise<string> {
  const file = ws.file(options.name ?? (options.gzip === true ? 'archive.tar.gz' : 'archive.tar'))
  await writeTar(file, entries, options)
  return file
}

async function importOk (ws: Workspace, entries: TarEntrySpec[], options: RootfsImportOptions = {}): Promise<{ dir: string, warnings: string[] }> {
  const warnings: string[] = []
  const entry = await importRootfs(await tarFile(ws, entries), { cacheDir: ws.cacheDir, onWarning: (message) => { warnings.push(message) }, ...options })
  return { dir: entry.dir, warnings }
}

describe('rootfs import: path traversal', () => {
  it('refuses ../ names and writes nothing outside', async () => {
    await withWorkspace(async (ws) => {
      const unique = `nsb-escape-${process.pid}-${Date.now()}`
      const archive = await tarFile(ws, [
        { name: 'ok.txt', content: 'fine' },
        { name: `../../../../../../../../${unique}`, content: 'escaped' }
      ])
      await expectRefused(ws, archive, 'NSB_ROOTFS_UNSAFE', /"\.\." component/)
      for (const place of ['/', os.tmpdir(), ws.dir, ws.cacheDir]) assert.equal(existsSync(path.join(place, unique)), false)
    })
  })

  it('refuses a .. in the middle of a name', async () => {
    await withWorkspace(async (ws) => {
      await expectRefused(ws, await tarFile(ws, [{ name: 'a/../../../outside/sentinel', content: 'pwned' }]), 'NSB_ROOTFS_UNSAFE')
    })
  })

  it('strips the leading / of absolute names: they land inside the root', async () => {
    await withWorkspace(async (ws) => {
      const target = path.join(ws.outside, 'sentinel')
      const { dir } = await importOk(ws, [{ name: target, content: 'inside' }, { name: '/abs-dir/file', content: 'x' }])
      assert.equal(await fs.readFile(target, 'utf8'), 'untouched\n')
      assert.equal(await fs.readFile(path.join(dir, target), 'utf8'), 'inside')
      assert.equal(await fs.readFile(path.join(dir, 'abs-dir/file'), 'utf8'), 'x')
      assert.equal(existsSync('/abs-dir'), false)
    })
  })
})

describe('rootfs import: symlinks', () => {
  it('keeps symlinks that point outside the root as symlinks', async () => {
    await withWorkspace(async (ws) => {
      const { dir } = await importOk(ws, [
        { name: 'etc', type: 'directory' },
        { name: 'etc/host-passwd', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'up', type: 'symlink', linkname: '../../../../..' },
        { name: 'out', type: 'symlink', linkname: ws.outside }
      ])
      assert.equal(await fs.readlink(path.join(dir, 'etc/host-passwd')), '/etc/passwd')
      assert.equal(await fs.readlink(path.join(dir, 'up')), '../../../../..')
      assert.equal(await fs.readlink(path.join(dir, 'out')), ws.outside)
      assert.equal((await fs.lstat(path.join(dir, 'out'))).isSymbolicLink(), true)
    })
  })

  it('refuses a file below an absolute symlink pointing outside', async () => {
    await withWorkspace(async (ws) => {
      const archive = await tarFile(ws, [
        { name: 'evil', type: 'symlink', linkname: ws.outside },
        { name: 'evil/sentinel', content: 'pwned' }
      ])
      await expectRefused(ws, archive, 'NSB_ROOTFS_UNSAFE', /symlink/)
    })
  })

  it('refuses a file below a relative symlink that climbs out', async () => {
    await withWorkspace(async (ws) => {
      const archive = await tarFile(ws, [
        { name: 'a', type: 'directory' },
        { name: 'a/up', type: 'symlink', linkname: '../../../../../..' },
        { name: `a/up${ws.outside}/new-file`, content: 'pwned' }
      ])
      await expectRefused(ws, archive, 'NSB_ROOTFS_UNSAFE')
      assert.equal(existsSync(path.join(ws.outside, 'new-file')), false)
    })
  })

  it('refuses a directory, a symlink and a hard link below a symlink', async () => {
    await withWorkspace(async (ws) => {
      for (const [index, entry] of ([
        { name: 'evil/newdir', type: 'directory' },
        { name: 'evil/newlink', type: 'symlink', linkname: '/' },
        { name: 'evil/hard', type: 'link', linkname: 'plain' }
      ] as TarEntrySpec[]).entries()) {
        const archive = await tarFile(ws, [
          { name: 'plain', content: 'p' },
          { name: 'evil', type: 'symlink', linkname: ws.outside },
          entry
        ], { name: `archive-${index}.tar` })
        await expectRefused(ws, archive, 'NSB_ROOTFS_UNSAFE')
      }
      assert.deepEqual(await fs.readdir(ws.outside), ['sentinel'])
    })
  })

  it('replaces a symlink by a later file without following it (the later entry wins)', async () => {
    await withWorkspace(async (ws) => {
      const sentinel = path.join(ws.outside, 'sentinel')
      const { dir } = await importOk(ws, [
        { name: 'a', content: 'one' },
        { name: 'a', type: 'symlink', linkname: sentinel },
        { name: 'a', content: 'two' },
        { name: 'b', type: 'symlink', linkname: sentinel },
        { name: 'b', content: 'replaced', mode: 0o600 },
        { name: 'd', type: 'directory' },
        { name: 'd/f', content: 'in d' },
        { name: 'd', content: 'now a file' },
        { name: 'e', content: 'a file first' },
        { name: 'e', type: 'directory' },
        { name: 'e/g', content: 'g' },
        { name: 'l', type: 'symlink', linkname: ws.outside },
        { name: 'l', type: 'directory' },
        { name: 'l/inside', content: 'safe' }
      ])
      assert.equal(await fs.readFile(sentinel, 'utf8'), 'untouched\n')
      assert.deepEqual(await fs.readdir(ws.outside), ['sentinel'])
      assert.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), 'two')
      const b = await fs.lstat(path.join(dir, 'b'))
      assert.equal(b.isFile(), true)
      assert.equal(b.mode & 0o777, 0o600)
      assert.equal(await fs.readFile(path.join(dir, 'd'), 'utf8'), 'now a file')
      assert.equal(await fs.readFile(path.join(dir, 'e/g'), 'utf8'), 'g')
      assert.equal((await fs.lstat(path.join(dir, 'l'))).isDirectory(), true)
      assert.equal(await fs.readFile(path.join(dir, 'l/inside'), 'utf8'), 'safe')
    })
  })
})

describe('rootfs import: hard links', () => {
  it('links to earlier members', async () => {
    await withWorkspace(async (ws) => {
      const { dir } = await importOk(ws, [
        { name: 'bin', type: 'directory' },
        { name: 'bin/orig', content: 'same inode', mode: 0o755 },
        { name: 'bin/copy', type: 'link', linkname: 'bin/orig' },
        { name: 'other', type: 'link', linkname: '/bin/orig' }
      ])
      const orig = await fs.stat(path.join(dir, 'bin/orig'))
      assert.equal((await fs.stat(path.join(dir, 'bin/copy'))).ino, orig.ino)
      assert.equal((await fs.stat(path.join(dir, 'other'))).ino, orig.ino)
      assert.equal(orig.nlink, 3)
    })
  })

  it('refuses a hard link out of the root', async () => {
    await withWorkspace(async (ws) => {
      await expectRefused(ws, await tarFile(ws, [{ name: 'h', type: 'link', linkname: '../../outside/sentinel' }]), 'NSB_ROOTFS_UNSAFE')
    })
  })

  it('refuses a hard link to an absolute host path that is not in the archive', async () => {
    await withWorkspace(async (ws) => {
      await expectRefused(ws, await tarFile(ws, [{ name: 'h', type: 'link', linkname: path.join(ws.outside, 'sentinel') }]), 'NSB_ROOTFS_UNSAFE', /not a file extracted before it/)
    })
  })

  it('refuses a hard link to a member not yet extracted', async () => {
    await withWorkspace(async (ws) => {
      await expectRefused(ws, await tarFile(ws, [
        { name: 'early', type: 'link', linkname: 'late' },
        { name: 'late', content: 'late' }
      ]), 'NSB_ROOTFS_UNSAFE')
    })
  })

  it('refuses a hard link whose target path goes through a symlink', async () => {
    await withWorkspace(async (ws) => {
      await expectRefused(ws, await tarFile(ws, [
        { name: 's', type: 'symlink', linkname: ws.outside },
        { name: 'h', type: 'link', linkname: 's/sentinel' }
      ]), 'NSB_ROOTFS_UNSAFE')
    })
  })
})

describe('rootfs import: special files, modes and owners', () => {
  it('skips device nodes and FIFOs with one warning each', async () => {
    await withWorkspace(async (ws) => {
      const { dir, warnings } = await importOk(ws, [
        { name: 'dev', type: 'directory' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
        { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
        { name: 'run/pipe', type: 'fifo', mode: 0o600 },
        { name: 'kept', content: 'k' }
      ])
      assert.deepEqual(await fs.readdir(path.join(dir, 'dev')), [])
      assert.equal(existsSync(path.join(dir, 'run/pipe')), false)
      assert.equal(await fs.readFile(path.join(dir, 'kept'), 'utf8'), 'k')
      assert.equal(warnings.length, 2, warnings.join('\n'))
      assert.match(warnings.find((w) => w.includes('device')) ?? '', /skipped 3 device nodes \(dev\/null, dev\/zero, dev\/sda\).*fresh \/dev/)
      assert.match(warnings.find((w) => w.includes('FIFO')) ?? '', /skipped 1 FIFO \(run\/pipe\)/)
    })
  })

  it('drops setuid/setgid bits unless allowSetuid', async () => {
    await withWorkspace(async (ws) => {
      const entries: TarEntrySpec[] = [
        { name: 'su', content: 'x', mode: 0o4755 },
        { name: 'sg', content: 'x', mode: 0o2755 },
        { name: 'sticky', type: 'directory', mode: 0o1777 }
      ]
      const dropped = await importOk(ws, entries)
      assert.equal((await fs.stat(path.join(dropped.dir, 'su'))).mode & 0o7777, 0o755)
      assert.equal((await fs.stat(path.join(dropped.dir, 'sg'))).mode & 0o7777, 0o755)
      assert.equal((await fs.stat(path.join(dropped.dir, 'sticky'))).mode & 0o7777, 0o1777)
      assert.equal(dropped.warnings.length, 1)
      assert.match(dropped.warnings[0] ?? '', /setuid\/setgid bits of 2 files \(su, sg\).*allowSetuid/)

      const kept = await importOk(ws, [...entries, { name: 'other', content: 'different digest' }], { allowSetuid: true })
      assert.equal((await fs.stat(path.join(kept.dir, 'su'))).mode & 0o7777, 0o4755)
      assert.deepEqual(kept.warnings, [])
    })
  })

  it('keeps modes and mtimes whatever the umask, read-only directories included', async () => {
    await withWorkspace(async (ws) => {
      const previous = process.umask(0o077)
      let dir: string
      try {
        ({ dir } = await importOk(ws, [
          { name: 'ro', type: 'directory', mode: 0o555 },
          { name: 'ro/file', content: 'r', mode: 0o444 },
          { name: 'ro/sub', type: 'directory', mode: 0o500 },
          { name: 'ro/sub/deep', content: 'd', mode: 0o640 },
          { name: 'locked', type: 'directory', mode: 0o000 },
          { name: 'locked/secret', content: 's', mode: 0o000 },
          { name: 'implicit/parent/file', content: 'i', mode: 0o664 }
        ]))
      } finally {
        process.umask(previous)
      }
      const mode = async (name: string): Promise<number> => (await fs.lstat(path.join(dir, name))).mode & 0o7777
      assert.equal(await mode('ro'), 0o555)
      assert.equal(await mode('ro/file'), 0o444)
      assert.equal(await mode('ro/sub'), 0o500)
      assert.equal(await mode('ro/sub/deep'), 0o640)
      assert.equal(await mode('locked'), 0o000)
      assert.equal(await mode('implicit'), 0o755)
      assert.equal(await mode('implicit/parent/file'), 0o664)
      assert.equal((await fs.lstat(path.join(dir, 'ro'))).mtime.getTime(), FIXED_MTIME.getTime())
      assert.equal((await fs.lstat(path.join(dir, 'ro/sub/deep'))).mtime.getTime(), FIXED_MTIME.getTime())
      const [entry] = await listRootfs(ws.cacheDir)
      assert.ok(entry !== undefined)
      await removeRootfs(entry.digest, ws.cacheDir)
      assert.deepEqual(await ws.cacheListing(), [])
    })
  })

  it('applies the archive owners as root, the caller owns everything otherwise', { skip: needsMachine(!isRoot && 'needs root') }, async () => {
    await withWorkspace(async (ws) => {
      const entries: TarEntrySpec[] = [
        { name: 'home', type: 'directory' },
        { name: 'home/user', type: 'directory', uid: 1234, gid: 5678, mode: 0o750 },
        { name: 'home/user/file', content: 'f', uid: 1234, gid: 5678, mode: 0o4755 },
        { name: 'home/user/link', type: 'symlink', linkname: 'file', uid: 1234, gid: 5678 }
      ]
      const owned = await importOk(ws, entries, { allowSetuid: true })
      for (const name of ['home/user', 'home/user/file', 'home/user/link']) {
        const stat = await fs.lstat(path.join(owned.dir, name))
        assert.deepEqual([stat.uid, stat.gid], [1234, 5678], name)
      }
      assert.equal((await fs.stat(path.join(owned.dir, 'home/user/file'))).mode & 0o7777, 0o4755, 'setuid survives chown')
      const mine = await importOk(ws, [...entries, { name: 'x', content: 'other digest' }], { preserveOwnership: false })
      const stat = await fs.lstat(path.join(mine.dir, 'home/user/file'))
      assert.deepEqual([stat.uid, stat.gid], [process.getuid?.(), process.getgid?.()])
    })
  })
})

describe('rootfs import: broken and unsupported archives', () => {
  it('refuses a truncated gzip', async () => {
    await withWorkspace(async (ws) => {
      const full = gzip(await buildTar([{ name: 'big', content: Buffer.alloc(200_000, 'x') }, { name: 'more', content: 'm' }]))
      const archive = ws.file('cut.tar.gz')
      await fs.writeFile(archive, full.subarray(0, Math.floor(full.length / 2)))
      await expectRefused(ws, archive, 'NSB_ROOTFS_INVALID', /gzip data is truncated or corrupt/)
    })
  })

  it('refuses a truncated tar and a corrupt header', async () => {
    await withWorkspace(async (ws) => {
      const tar = await buildTar([{ name: 'a', content: Buffer.alloc(5000, 'a') }, { name: 'b', content: 'b' }])
      const cut = ws.file('cut.tar')
      await fs.writeFile(cut, tar.subarray(0, 3000))
      await expectRefused(ws, cut, 'NSB_ROOTFS_INVALID', /truncated or corrupt/)
      const corrupt = Buffer.from(tar)
      corrupt[512 + 5120 + 10] = 0x41 // the second header's name, after 512 + 5000 (padded) bytes
      const bad = ws.file('corrupt.tar')
      await fs.writeFile(bad, corrupt)
      await expectRefused(ws, bad, 'NSB_ROOTFS_INVALID')
    })
  })

  it('refuses GNU tar\'s sparse members (old GNU and every PAX version), naming them', { skip: gnuTarMissing }, async () => {
    await withWorkspace(async (ws) => {
      // Genuinely sparse: 10 MiB of hole and one byte; and, apart, one with many holes,
      // whose old GNU header needs extension blocks (more than 4 data runs).
      const source = ws.file('sparse-src')
      const holes = ws.file('holes-src')
      await fs.mkdir(path.join(source, 'data'), { recursive: true })
      await fs.mkdir(path.join(holes, 'data'), { recursive: true })
      execFileSync('sh', ['-c', 'truncate -s 10M data/big && printf x >> data/big'], { cwd: source })
      execFileSync('sh', ['-c', 'for i in 1 2 3 4 5 6 7; do printf y | dd of=data/holes bs=1 seek=$((i * 1048576)) conv=notrunc status=none; done'], { cwd: holes })
      for (const file of [path.join(source, 'data/big'), path.join(holes, 'data/holes')]) {
        const stat = await fs.stat(file)
        assert.ok(stat.blocks * 512 < stat.size, `${file}: the file system under the workspace keeps holes`)
      }
      await fs.writeFile(path.join(source, 'data/plain'), 'plain\n')
      for (const [name, flags, member] of [
        ['gnu.tar', ['--format=gnu'], /the member data\/big has a tar type this import cannot read, most likely a GNU sparse file .*without -S/],
        ['pax.tar', ['--format=pax'], /the sparse member \.\/data\/big \(GNU PAX sparse format\) is not supported; repack .*without -S/],
        ['pax-0.0.tar', ['--format=pax', '--sparse-version=0.0'], /the sparse member data\/big \(GNU PAX sparse format\)/],
        ['pax-0.1.tar', ['--format=pax', '--sparse-version=0.1'], /the sparse member \.\/data\/big \(GNU PAX sparse format\)/],
        ['pax-1.0.tar', ['--format=pax', '--sparse-version=1.0'], /the sparse member \.\/data\/big \(GNU PAX sparse format\)/],
        ['holes.tar', ['--format=gnu'], /the member data\/holes has a tar type .*GNU sparse/]
      ] as Array<[string, string[], RegExp]>) {
        const archive = ws.file(name)
        execFileSync('tar', ['-S', ...flags, '-cf', archive, '-C', name === 'holes.tar' ? holes : source, '.'])
        await expectRefused(ws, archive, 'NSB_ROOTFS_UNSUPPORTED_FORMAT', member)
      }
    })
  })

  it('refuses files that are not archives', async () => {
    await withWorkspace(async (ws) => {
      const cases: Array<[string, Buffer, RegExp]> = [
        ['notes.tar', Buffer.from('just some text, long enough '.repeat(40)), /not a tar archive/],
        ['empty.tar', Buffer.alloc(0), /empty/],
        ['text.tar.gz', gzip(Buffer.from('hello '.repeat(200))), /decompressed data is not a tar archive/],
        ['x.tar.xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), /xz -d/],
        ['x.zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0]), /zip file/]
      ]
      for (const [name, bytes, message] of cases) {
        const file = ws.file(name)
        await fs.writeFile(file, bytes)
        await expectRefused(ws, file, 'NSB_ROOTFS_UNSUPPORTED_FORMAT', message)
      }
    })
  })

  it('reads tar.zst where Node has zstd, and says what to do where it has not', async () => {
    await withWorkspace(async (ws) => {
      const tar = await buildTar([{ name: 'z', content: 'zstd' }])
      const compress = (zlib as unknown as Record<string, unknown>).zstdCompressSync as ((data: Buffer) => Buffer) | undefined
      const archive = ws.file('rootfs.tar.zst')
      if (compress === undefined) {
        // A zstd frame header followed by junk: the format is told by its magic bytes alone.
        await fs.writeFile(archive, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tar.subarray(0, 64)]))
        await expectRefused(ws, archive, 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /Node\.js >= 22\.15.*zstd -d/)
      } else {
        await fs.writeFile(archive, compress(tar))
        const entry = await importRootfs(archive, { cacheDir: ws.cacheDir })
        assert.equal(await fs.readFile(path.join(entry.dir, 'z'), 'utf8'), 'zstd')
      }
    })
  })
})

describe('rootfs import: archive bombs', () => {
  it('stops at maxBytes and names the option', async () => {
    await withWorkspace(async (ws) => {
      const archive = await tarFile(ws, [
        { name: 'small', content: Buffer.alloc(600) },
        { name: 'over', content: Buffer.alloc(600) }
      ], { gzip: true })
      await expectRefused(ws, archive, 'NSB_ROOTFS_TOO_LARGE', /more than the maxBytes limit of 1000 bytes \(reached at over\).*--max-bytes/, { maxBytes: 1000 })
    })
  })

  it('stops at maxEntries and names the option', async () => {
    await withWorkspace(async (ws) => {
      const entries = Array.from({ length: 20 }, (_, index): TarEntrySpec => ({ name: `f${index}`, content: 'x' }))
      await expectRefused(ws, await tarFile(ws, entries), 'NSB_ROOTFS_TOO_LARGE', /more than 10 entries.*maxEntries.*--max-entries/, { maxEntries: 10 })
    })
  })

  it('stops a stream of empty blocks that never ends in files', async () => {
    await withWorkspace(async (ws) => {
      const archive = ws.file('zeros.tar.gz')
      const tar = await buildTar([{ name: 'tiny', content: 't' }])
      await fs.writeFile(archive, gzip(Buffer.concat([tar.subarray(0, 1024), Buffer.alloc(8 * 1024 * 1024)])))
      await expectRefused(ws, archive, 'NSB_ROOTFS_TOO_LARGE', /decompresses to more than/, { maxBytes: 1024, maxEntries: 10 })
    })
  })

  it('imports an archive that fits its limits exactly', async () => {
    await withWorkspace(async (ws) => {
      const { dir } = await importOk(ws, [{ name: 'a', content: Buffer.alloc(500) }, { name: 'b', content: Buffer.alloc(500) }], { maxBytes: 1000, maxEntries: 2 })
      assert.equal((await fs.stat(path.join(dir, 'b'))).size, 500)
    })
  })
})
