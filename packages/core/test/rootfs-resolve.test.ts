/** resolveRootfs: a `--rootfs` value (directory, archive, imported name or digest) -> a directory. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SandboxError } from '../src/errors.js'
import { importRootfs, listRootfs, removeRootfs, resolveRootfs } from '../src/rootfs/index.js'
import { writeTar } from '../../../fixtures/rootfs/tar-builder.js'
import { withWorkspace as withFreshWorkspace } from '../../../fixtures/rootfs/workspace.js'
import type { Workspace } from '../../../fixtures/rootfs/workspace.js'

const withWorkspace = (run: (ws: Workspace) => Promise<void>): Promise<void> => withFreshWorkspace('nsb-rootfs-resolve-', run)

function notFound (message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SandboxError)
    assert.equal(error.code, 'NSB_ROOTFS_NOT_FOUND')
    assert.match(error.message, message)
    return true
  }
}

describe('resolveRootfs', () => {
  it('returns an existing directory as an absolute path, without importing', async () => {
    await withWorkspace(async (ws) => {
      const dir = ws.file('tree')
      await fs.mkdir(dir)
      const relative = path.relative(process.cwd(), dir)
      assert.equal(await resolveRootfs(relative, { cacheDir: ws.cacheDir }), dir)
      assert.deepEqual(await ws.cacheListing(), [])
    })
  })

  it('imports an archive path, then finds it in the cache by content', async () => {
    await withWorkspace(async (ws) => {
      const archive = ws.file('rootfs.tar.gz')
      await writeTar(archive, [{ name: 'etc/os-release', content: 'ID=test\n' }], { gzip: true })
      const dir = await resolveRootfs(archive, { cacheDir: ws.cacheDir })
      assert.equal(await fs.readFile(path.join(dir, 'etc/os-release'), 'utf8'), 'ID=test\n')
      const [entry] = await listRootfs(ws.cacheDir)
      assert.equal(entry?.dir, dir)
      let progress = 0
      assert.equal(await resolveRootfs(archive, { cacheDir: ws.cacheDir, onProgress: () => { progress += 1 } }), dir)
      assert.equal(progress, 0, 'the second time is a cache hit')
    })
  })

  it('looks up an imported name and a digest', async () => {
    await withWorkspace(async (ws) => {
      const archive = ws.file('named.tar')
      await writeTar(archive, [{ name: 'hello', content: 'hi' }])
      const entry = await importRootfs(archive, { cacheDir: ws.cacheDir, name: 'hello-1.0' })
      await fs.rm(archive)
      assert.equal(await resolveRootfs('hello-1.0', { cacheDir: ws.cacheDir }), entry.dir)
      assert.equal(await resolveRootfs(entry.digest, { cacheDir: ws.cacheDir }), entry.dir)
      assert.equal(await resolveRootfs(entry.digest.slice(7, 19), { cacheDir: ws.cacheDir }), entry.dir)
    })
  })

  it('says what to do when nothing matches', async () => {
    await withWorkspace(async (ws) => {
      await assert.rejects(resolveRootfs('no-such-rootfs', { cacheDir: ws.cacheDir }),
        notFound(/"no-such-rootfs" is neither a directory, an archive, nor a name imported into .*ns-sandbox rootfs import <archive> --name no-such-rootfs/))
      await assert.rejects(resolveRootfs(ws.file('missing/busybox.tar.gz'), { cacheDir: ws.cacheDir }), notFound(/neither a directory, an archive/))
      const archive = ws.file('gone.tar')
      await writeTar(archive, [{ name: 'x', content: 'x' }])
      const entry = await importRootfs(archive, { cacheDir: ws.cacheDir, name: 'gone' })
      await fs.writeFile(path.join(ws.cacheDir, 'names', 'stale'), `${entry.digest}\n`)
      await removeRootfs(entry.digest, ws.cacheDir)
      await fs.writeFile(path.join(ws.cacheDir, 'names', 'stale'), `${entry.digest}\n`)
      await assert.rejects(resolveRootfs('stale', { cacheDir: ws.cacheDir }), notFound(/points at sha256:.*no longer in/))
    })
  })
})
