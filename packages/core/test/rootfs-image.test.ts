/** OCI image layouts and `docker save` archives: layers in order, whiteouts, image choice, digests. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { SandboxErrorCode } from '../src/errors.js'
import { importRootfs } from '../src/rootfs/index.js'
import type { RootfsImportOptions } from '../src/rootfs/index.js'
import { dockerSaveFiles, hostOciArch, ociLayoutFiles, writeImageArchive } from '../../../fixtures/rootfs/build-image.js'
import type { ImageFiles } from '../../../fixtures/rootfs/build-image.js'
import { buildTar, gzip } from '../../../fixtures/rootfs/tar-builder.js'
import type { TarEntrySpec } from '../../../fixtures/rootfs/tar-builder.js'
import { isCode } from './helpers/errors.js'
import { withWorkspace as withFreshWorkspace } from '../../../fixtures/rootfs/workspace.js'
import type { Workspace } from '../../../fixtures/rootfs/workspace.js'

const LAYER_1: TarEntrySpec[] = [
  { name: 'bin', type: 'directory' },
  { name: 'bin/tool', content: 'v1', mode: 0o755 },
  { name: 'etc', type: 'directory' },
  { name: 'etc/keep', content: 'kept' },
  { name: 'etc/remove-me', content: 'gone soon' },
  { name: 'etc/app', type: 'directory' },
  { name: 'etc/app/a.conf', content: 'a' },
  { name: 'etc/app/b.conf', content: 'b' },
  { name: 'var', type: 'directory' },
  { name: 'var/cache', type: 'directory' },
  { name: 'var/cache/old1', content: 'old' },
  { name: 'var/cache/sub', type: 'directory' },
  { name: 'var/cache/sub/old2', content: 'old' },
  { name: 'opt', type: 'directory' },
  { name: 'opt/big', type: 'directory' },
  { name: 'opt/big/blob', content: 'big' }
]

const LAYER_2: TarEntrySpec[] = [
  { name: 'bin/tool', content: 'v2', mode: 0o755 },
  { name: 'etc/.wh.remove-me' },
  { name: '.wh.opt' },
  { name: '.wh.never-existed' },
  { name: 'etc/same', content: 'same layer' },
  { name: 'etc/.wh.same' },
  // Opaque marker after the layer's own entry in the directory...
  { name: 'var/cache', type: 'directory' },
  { name: 'var/cache/new', content: 'fresh' },
  { name: 'var/cache/.wh..wh..opq' },
  // ... and before it.
  { name: 'etc/app/.wh..wh..opq' },
  { name: 'etc/app/c.conf', content: 'c' }
]

const withWorkspace = (run: (ws: Workspace) => Promise<void>): Promise<void> => withFreshWorkspace('nsb-rootfs-image-', run)


async function expectRefused (ws: Workspace, image: ImageFiles, code: SandboxErrorCode, message?: RegExp, options: RootfsImportOptions = {}): Promise<void> {
  const archive = ws.file(`refused-${Math.random().toString(36).slice(2)}.tar`)
  await writeImageArchive(archive, image)
  const before = await ws.cacheListing()
  await assert.rejects(importRootfs(archive, { cacheDir: ws.cacheDir, ...options }), isCode(code, message))
  assert.deepEqual(await ws.cacheListing(), before, 'no partial entry, no temp directory')
}

async function importImage (ws: Workspace, image: ImageFiles, options: RootfsImportOptions = {}): Promise<string> {
  const archive = ws.file(`image-${Math.random().toString(36).slice(2)}.tar`)
  await writeImageArchive(archive, image)
  return (await importRootfs(archive, { cacheDir: ws.cacheDir, ...options })).dir
}

async function assertMergedTree (dir: string): Promise<void> {
  const read = async (name: string): Promise<string> => await fs.readFile(path.join(dir, name), 'utf8')
  assert.equal(await read('bin/tool'), 'v2', 'a later layer overwrites')
  assert.equal(await read('etc/keep'), 'kept')
  assert.equal(existsSync(path.join(dir, 'etc/remove-me')), false, '.wh.<name> deletes a lower file')
  assert.equal(existsSync(path.join(dir, 'opt')), false, '.wh.<dir> deletes a lower directory')
  assert.equal(await read('etc/same'), 'same layer', 'a whiteout never hides its own layer')
  assert.deepEqual((await fs.readdir(path.join(dir, 'var/cache'))).sort(), ['new'], 'opaque marker after the new entry')
  assert.deepEqual((await fs.readdir(path.join(dir, 'etc/app'))).sort(), ['c.conf'], 'opaque marker before the new entry')
  assert.deepEqual((await fs.readdir(path.join(dir, 'etc'))).sort(), ['app', 'keep', 'same'], 'no whiteout files remain')
  assert.deepEqual((await fs.readdir(dir)).sort(), ['bin', 'etc', 'var'])
}

describe('rootfs import: OCI image layouts', () => {
  it('applies two gzip layers in order with whiteouts and an opaque directory', async () => {
    await withWorkspace(async (ws) => {
      const dir = await importImage(ws, await ociLayoutFiles([{ layers: [LAYER_1, LAYER_2], ref: 'latest' }]))
      await assertMergedTree(dir)
      assert.equal(existsSync(path.join(path.dirname(dir), 'image')), false, 'the unpacked outer archive is gone')
    })
  })

  it('applies uncompressed layers the same way', async () => {
    await withWorkspace(async (ws) => {
      await assertMergedTree(await importImage(ws, await ociLayoutFiles([{ layers: [LAYER_1, LAYER_2] }], { compress: false })))
    })
  })

  it('picks an image by ref name, and asks for one when there are several', async () => {
    await withWorkspace(async (ws) => {
      const image = await ociLayoutFiles([
        { ref: 'one', layers: [[{ name: 'which', content: 'one' }]] },
        { ref: 'two', layers: [[{ name: 'which', content: 'two' }]] }
      ])
      await expectRefused(ws, image, 'NSB_INVALID_OPTION', /holds 2 images \(one, two\).*imageRef/)
      await expectRefused(ws, image, 'NSB_ROOTFS_NOT_FOUND', /no image named "three"/, { imageRef: 'three' })
      const dir = await importImage(ws, image, { imageRef: 'two' })
      assert.equal(await fs.readFile(path.join(dir, 'which'), 'utf8'), 'two')
    })
  })

  it('follows a multi-platform index to this machine\'s platform', async () => {
    await withWorkspace(async (ws) => {
      const other = hostOciArch() === 's390x' ? 'riscv64' : 's390x'
      const image = await ociLayoutFiles([
        { platform: { os: 'linux', architecture: other }, layers: [[{ name: 'arch', content: other }]] },
        { platform: { os: 'linux', architecture: hostOciArch() }, layers: [[{ name: 'arch', content: hostOciArch() }]] }
      ], { nested: true, nestedRef: 'multi' })
      const dir = await importImage(ws, image, { imageRef: 'multi' })
      assert.equal(await fs.readFile(path.join(dir, 'arch'), 'utf8'), hostOciArch())
      const foreign = await ociLayoutFiles([{ platform: { os: 'linux', architecture: other }, layers: [[{ name: 'arch', content: other }]] }])
      await expectRefused(ws, foreign, 'NSB_ROOTFS_NOT_FOUND', new RegExp(`for linux/${other}, not linux/${hostOciArch()}`))
    })
  })

  it('refuses a layer whose bytes do not match its digest', async () => {
    await withWorkspace(async (ws) => {
      const image = await ociLayoutFiles([{ layers: [LAYER_1, LAYER_2] }])
      const second = image.layerPaths[0]?.[1] as string
      image.files.set(second, gzip(await buildTar([{ name: 'evil', content: 'swapped layer' }])))
      await expectRefused(ws, image, 'NSB_ROOTFS_DIGEST_MISMATCH', /layer 2 of 2 .* has digest sha256:[0-9a-f]{64}, but the image says sha256:/)
    })
  })

  it('refuses a manifest whose bytes do not match its digest', async () => {
    await withWorkspace(async (ws) => {
      const image = await ociLayoutFiles([{ layers: [LAYER_1] }])
      const index = JSON.parse(image.files.get('index.json')?.toString() ?? '{}') as { manifests: Array<{ digest: string }> }
      const manifestPath = `blobs/sha256/${index.manifests[0]?.digest.slice(7) ?? ''}`
      image.files.set(manifestPath, Buffer.from(`${image.files.get(manifestPath)?.toString() ?? ''} `))
      await expectRefused(ws, image, 'NSB_ROOTFS_DIGEST_MISMATCH', /manifest/)
    })
  })

  it('refuses an archive with a missing layer blob', async () => {
    await withWorkspace(async (ws) => {
      const image = await ociLayoutFiles([{ layers: [LAYER_1, LAYER_2] }])
      image.files.delete(image.layerPaths[0]?.[0] as string)
      await expectRefused(ws, image, 'NSB_ROOTFS_INVALID', /layer 1 of 2 .* is missing from the archive/)
    })
  })

  it('refuses whiteouts that name a directory itself or its parent', async () => {
    await withWorkspace(async (ws) => {
      for (const whiteout of ['.wh...', 'etc/.wh...', 'etc/.wh..']) {
        const image = await ociLayoutFiles([{ layers: [LAYER_1, [{ name: whiteout }]] }])
        await expectRefused(ws, image, 'NSB_ROOTFS_UNSAFE', /would delete/)
      }
      assert.deepEqual(await fs.readdir(ws.outside), ['sentinel'])
    })
  })

  it('refuses imageRef for a plain root filesystem archive', async () => {
    await withWorkspace(async (ws) => {
      const archive = ws.file('plain.tar')
      await fs.writeFile(archive, await buildTar([{ name: 'f', content: 'f' }]))
      await assert.rejects(importRootfs(archive, { cacheDir: ws.cacheDir, imageRef: 'latest' }), isCode('NSB_INVALID_OPTION', /plain root filesystem/))
      assert.deepEqual(await ws.cacheListing(), [])
    })
  })
})

describe('rootfs import: docker save archives', () => {
  it('applies the layers of a legacy archive (<id>/layer.tar) with whiteouts', async () => {
    await withWorkspace(async (ws) => {
      await assertMergedTree(await importImage(ws, await dockerSaveFiles([{ repoTags: ['app:1'], layers: [LAYER_1, LAYER_2] }])))
    })
  })

  it('applies the layers of a Docker >= 25 archive (blobs/sha256)', async () => {
    await withWorkspace(async (ws) => {
      await assertMergedTree(await importImage(ws, await dockerSaveFiles([{ repoTags: ['app:1'], layers: [LAYER_1, LAYER_2] }], { format: 'blobs' })))
    })
  })

  it('picks an image by RepoTags (":latest" may be omitted)', async () => {
    await withWorkspace(async (ws) => {
      const image = await dockerSaveFiles([
        { repoTags: ['app:1'], layers: [[{ name: 'v', content: '1' }]] },
        { repoTags: ['app:latest', 'app:2'], layers: [[{ name: 'v', content: '2' }]] }
      ])
      await expectRefused(ws, image, 'NSB_INVALID_OPTION', /holds 2 images \(app:1, app:latest app:2\)/)
      await expectRefused(ws, image, 'NSB_ROOTFS_NOT_FOUND', /no image tagged "app:3"/, { imageRef: 'app:3' })
      assert.equal(await fs.readFile(path.join(await importImage(ws, image, { imageRef: 'app:1' }), 'v'), 'utf8'), '1')
      assert.equal(await fs.readFile(path.join(await importImage(ws, image, { imageRef: 'app' }), 'v'), 'utf8'), '2')
    })
  })

  it('refuses a layer that does not match the config\'s diff_ids', async () => {
    await withWorkspace(async (ws) => {
      const image = await dockerSaveFiles([{ layers: [LAYER_1, LAYER_2] }])
      image.files.set(image.layerPaths[0]?.[0] as string, await buildTar([{ name: 'evil', content: 'swapped' }]))
      await expectRefused(ws, image, 'NSB_ROOTFS_DIGEST_MISMATCH', /layer 1 of 2/)
    })
  })

  it('refuses a missing layer and a missing config', async () => {
    await withWorkspace(async (ws) => {
      const image = await dockerSaveFiles([{ layers: [LAYER_1, LAYER_2] }])
      image.files.delete(image.layerPaths[0]?.[1] as string)
      await expectRefused(ws, image, 'NSB_ROOTFS_INVALID', /layer 2 of 2 .* is missing/)
      const noConfig = await dockerSaveFiles([{ layers: [LAYER_1] }])
      for (const name of noConfig.files.keys()) if (name.endsWith('.json') && name !== 'manifest.json') noConfig.files.delete(name)
      await expectRefused(ws, noConfig, 'NSB_ROOTFS_INVALID', /image config .* is missing/)
    })
  })

  it('reads a layer that old docker save links to an identical one, but no link out of the archive', async () => {
    await withWorkspace(async (ws) => {
      // Two identical layers share one diff_id; old docker save stores the second as a
      // symlink to the first layer's layer.tar.
      const base = await dockerSaveFiles([{ layers: [LAYER_1, LAYER_1] }])
      const first = base.layerPaths[0]?.[0] as string
      const linked = `${'1'.repeat(64)}/layer.tar`
      const manifest = JSON.parse(base.files.get('manifest.json')?.toString() ?? '[]') as Array<{ Layers: string[] }>
      manifest[0]?.Layers.splice(1, 1, linked)
      base.files.set('manifest.json', Buffer.from(JSON.stringify(manifest)))
      const outer = (linkname: string): TarEntrySpec[] => [
        ...[...base.files].map(([name, content]): TarEntrySpec => ({ name, content })),
        { name: linked, type: 'symlink', linkname }
      ]
      const good = ws.file('linked.tar')
      await fs.writeFile(good, await buildTar(outer(`../${first}`)))
      const entry = await importRootfs(good, { cacheDir: ws.cacheDir })
      assert.equal(await fs.readFile(path.join(entry.dir, 'bin/tool'), 'utf8'), 'v1')
      const bad = ws.file('escaping.tar')
      await fs.writeFile(bad, await buildTar(outer(path.join(ws.outside, 'sentinel'))))
      await assert.rejects(importRootfs(bad, { cacheDir: ws.cacheDir }), isCode('NSB_ROOTFS_UNSAFE', /outside the archive/))
      assert.deepEqual((await ws.cacheListing()).filter((name) => name.includes('.tmp-')), [])
    })
  })
})
