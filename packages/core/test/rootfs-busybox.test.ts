/** A small real rootfs (the host's static busybox) imported, checked, and found again in the cache. */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { importRootfs, listRootfs } from '../src/rootfs/index.js'
import type { RootfsEntry } from '../src/rootfs/index.js'
import { BUSYBOX_APPLETS, HOST_BUSYBOX, buildBusyboxTarball, hostHasBusybox } from '../../../fixtures/rootfs/build-busybox-rootfs.js'
import { createWorkspace } from '../../../fixtures/rootfs/workspace.js'
import type { Workspace } from '../../../fixtures/rootfs/workspace.js'
import { needsMachine } from '../../../test/helpers/machine.js'

const skip = needsMachine(hostHasBusybox() ? false : `${HOST_BUSYBOX} is missing (apt-get install -y busybox-static)`)

async function sha256 (file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex')
}

describe('rootfs import: busybox', { skip }, () => {
  let ws: Workspace
  let archive: string
  let entry: RootfsEntry
  const progress: Array<[number, number | undefined]> = []

  before(async () => {
    ws = await createWorkspace()
    archive = ws.file('busybox.tar.gz')
    await buildBusyboxTarball(archive)
    entry = await importRootfs(archive, { cacheDir: ws.cacheDir, name: 'busybox', onProgress: (done, total) => { progress.push([done, total]) } })
  })
  after(async () => { await ws.cleanup() })

  it('names the entry by the archive digest and lays it out in the cache', async () => {
    assert.equal(entry.digest, `sha256:${await sha256(archive)}`)
    assert.equal(entry.dir, path.join(ws.cacheDir, `sha256-${entry.digest.slice(7)}`, 'rootfs'))
    assert.deepEqual(entry.names, ['busybox'])
    assert.ok(entry.sizeBytes >= (await fs.stat(HOST_BUSYBOX)).size)
    assert.ok(!Number.isNaN(Date.parse(entry.importedAt)))
    assert.equal((await fs.readFile(path.join(ws.cacheDir, 'names', 'busybox'), 'utf8')).trim(), entry.digest)
  })

  it('reports progress up to the archive size', async () => {
    const size = (await fs.stat(archive)).size
    assert.ok(progress.length > 0)
    assert.deepEqual(progress.at(-1), [size, size])
    for (let index = 1; index < progress.length; index++) assert.ok((progress[index]?.[0] ?? 0) >= (progress[index - 1]?.[0] ?? 0))
  })

  it('unpacks busybox byte for byte, with its mode', async () => {
    const binary = path.join(entry.dir, 'bin/busybox')
    assert.equal(await sha256(binary), await sha256(HOST_BUSYBOX))
    assert.equal((await fs.stat(binary)).mode & 0o7777, 0o755)
  })

  it('keeps the applet symlinks as symlinks', async () => {
    for (const applet of BUSYBOX_APPLETS) {
      const link = path.join(entry.dir, 'bin', applet)
      assert.equal((await fs.lstat(link)).isSymbolicLink(), true, applet)
      assert.equal(await fs.readlink(link), 'busybox')
    }
    assert.equal(await fs.readlink(path.join(entry.dir, 'sbin/init')), '../bin/busybox')
  })

  it('keeps directory modes: sticky /tmp, private /root, read-only /proc', async () => {
    const mode = async (name: string): Promise<number> => (await fs.stat(path.join(entry.dir, name))).mode & 0o7777
    assert.equal(await mode('tmp'), 0o1777)
    assert.equal(await mode('var/tmp'), 0o1777)
    assert.equal(await mode('root'), 0o700)
    assert.equal(await mode('proc'), 0o555)
    assert.equal(await mode('.'), 0o755)
    assert.equal(await fs.readFile(path.join(entry.dir, 'etc/hostname'), 'utf8'), 'busybox\n')
  })

  it('runs: the unpacked busybox and its applet links work', () => {
    assert.equal(execFileSync(path.join(entry.dir, 'bin/busybox'), ['echo', 'hello from the rootfs'], { encoding: 'utf8' }), 'hello from the rootfs\n')
    assert.equal(execFileSync(path.join(entry.dir, 'bin/cat'), [path.join(entry.dir, 'etc/hostname')], { encoding: 'utf8' }), 'busybox\n')
  })

  it('is a cache hit the second time: no extraction, same entry', async () => {
    const marker = path.join(entry.dir, 'etc/marker-left-by-test')
    await fs.writeFile(marker, 'x')
    let reported = 0
    const again = await importRootfs(archive, { cacheDir: ws.cacheDir, onProgress: () => { reported += 1 } })
    assert.equal(reported, 0, 'a hit reads no archive bytes for extraction')
    assert.deepEqual(again, entry)
    assert.equal(await fs.readFile(marker, 'utf8'), 'x', 'the cached tree was not re-extracted')
    await fs.rm(marker)
    const copy = ws.file('copy-of-busybox.tar.gz')
    await fs.copyFile(archive, copy)
    const byContent = await importRootfs(copy, { cacheDir: ws.cacheDir, name: 'box' })
    assert.equal(byContent.dir, entry.dir)
    assert.deepEqual(byContent.names, ['box', 'busybox'])
    assert.equal((await listRootfs(ws.cacheDir)).length, 1)
  })
})
