/** `ns-sandbox rootfs import | ls | rm | prune` through runRootfsCommand, with captured output. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import { createProgressBar, runRootfsCommand } from '../src/cli/rootfs-command.js'
import { formatByteSize } from '../src/options/units.js'
import { writeTar } from '../../../fixtures/rootfs/tar-builder.js'
import { withWorkspace as withFreshWorkspace } from '../../../fixtures/rootfs/workspace.js'
import type { Workspace } from '../../../fixtures/rootfs/workspace.js'

class Capture extends Writable {
  text = ''
  isTTY: boolean
  columns = 100
  constructor (isTTY = false) {
    super()
    this.isTTY = isTTY
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString()
    callback()
  }
}

async function cli (...argv: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout = new Capture()
  const stderr = new Capture()
  const code = await runRootfsCommand(argv, { stdout, stderr })
  return { code, stdout: stdout.text, stderr: stderr.text }
}

const withWorkspace = (run: (ws: Workspace) => Promise<void>): Promise<void> => withFreshWorkspace('nsb-rootfs-cli-', run)

async function archive (ws: Workspace, name: string, marker: string): Promise<string> {
  const file = ws.file(name)
  await writeTar(file, [{ name: 'etc', type: 'directory' }, { name: 'etc/marker', content: marker }], { gzip: true })
  return file
}

describe('ns-sandbox rootfs', () => {
  it('imports, lists, removes by name and by digest prefix', async () => {
    await withWorkspace(async (ws) => {
      const first = await archive(ws, 'first.tar.gz', 'one')
      const imported = await cli('import', first, '--name', 'one', '--cache-dir', ws.cacheDir)
      assert.equal(imported.code, 0, imported.stderr)
      assert.equal(imported.stderr, '', 'no progress bar and no warning when stderr is not a TTY')
      const [digest, size, unit, dir] = imported.stdout.trim().split(' ')
      assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/)
      assert.equal(`${size ?? ''} ${unit ?? ''}`, formatByteSize(3), 'the size of etc/marker')
      assert.equal(await fs.readFile(path.join(dir ?? '', 'etc/marker'), 'utf8'), 'one')

      const second = await cli('import', await archive(ws, 'second.tar.gz', 'two'), '--cache-dir', ws.cacheDir, '--json')
      assert.equal(second.code, 0, second.stderr)
      const secondEntry = JSON.parse(second.stdout) as { digest: string, names: string[] }
      assert.deepEqual(secondEntry.names, [])

      const table = await cli('ls', '--cache-dir', ws.cacheDir)
      assert.equal(table.code, 0)
      const lines = table.stdout.trim().split('\n')
      assert.match(lines[0] ?? '', /^DIGEST\s+SIZE\s+IMPORTED\s+NAMES$/)
      assert.equal(lines.length, 3)
      assert.ok(lines.some((line) => line.startsWith(digest?.slice(7, 19) ?? '?') && line.endsWith('one')))
      assert.ok(lines.some((line) => line.startsWith(secondEntry.digest.slice(7, 19)) && line.endsWith('-')))

      const json = JSON.parse((await cli('ls', '--json', '--cache-dir', ws.cacheDir)).stdout) as Array<{ digest: string }>
      assert.deepEqual(json.map((entry) => entry.digest).sort(), [digest, secondEntry.digest].sort())

      const byName = await cli('rm', 'one', '--cache-dir', ws.cacheDir)
      assert.deepEqual([byName.code, byName.stdout], [0, 'removed one\n'])
      const byPrefix = await cli('rm', secondEntry.digest.slice(7, 19), '--cache-dir', ws.cacheDir)
      assert.equal(byPrefix.code, 0, byPrefix.stderr)
      assert.equal((await cli('ls', '--cache-dir', ws.cacheDir)).stdout, '')
      assert.deepEqual(await ws.cacheListing(), [])
    })
  })

  it('prunes entries without a name and temp dirs of dead importers, keeps named ones', async () => {
    await withWorkspace(async (ws) => {
      assert.equal((await cli('import', await archive(ws, 'kept.tar.gz', 'kept'), '--name', 'kept', '--cache-dir', ws.cacheDir)).code, 0)
      const unnamed = await cli('import', await archive(ws, 'loose.tar.gz', 'loose'), '--cache-dir', ws.cacheDir)
      const looseDigest = unnamed.stdout.split(' ')[0] ?? ''
      const deadTemp = path.join(ws.cacheDir, '.tmp-999999999-abcdef')
      await fs.mkdir(path.join(deadTemp, 'rootfs/ro'), { recursive: true })
      await fs.chmod(path.join(deadTemp, 'rootfs/ro'), 0o555)
      const liveTemp = path.join(ws.cacheDir, `.tmp-${process.pid}-import`)
      await fs.mkdir(liveTemp)
      await fs.writeFile(path.join(ws.cacheDir, 'names', 'dangling'), `sha256:${'0'.repeat(64)}\n`)

      const pruned = await cli('prune', '--cache-dir', ws.cacheDir)
      assert.equal(pruned.code, 0, pruned.stderr)
      assert.deepEqual(pruned.stdout.trim().split('\n').sort(), [`removed ${looseDigest}`, 'removed .tmp-999999999-abcdef', 'removed names/dangling'].sort())
      const left = await ws.cacheListing()
      assert.ok(left.includes(`.tmp-${process.pid}-import`), 'a live importer\'s temp dir stays')
      assert.ok(left.includes(path.join('names', 'kept')))
      assert.equal(left.filter((name) => name.startsWith('sha256-')).length, 1)
      assert.equal((await cli('prune', '--cache-dir', ws.cacheDir)).stdout, 'nothing to prune\n')
    })
  })

  it('prints warnings on stderr', async () => {
    await withWorkspace(async (ws) => {
      const file = ws.file('dev.tar')
      await writeTar(file, [{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }, { name: 'f', content: 'f' }])
      const result = await cli('import', file, '--cache-dir', ws.cacheDir)
      assert.equal(result.code, 0)
      assert.match(result.stderr, /^ns-sandbox: warning: skipped 1 device node \(dev\/null\)/)
    })
  })

  it('reports errors with their code and usage mistakes with exit code 2', async () => {
    await withWorkspace(async (ws) => {
      const missing = await cli('import', ws.file('nope.tar'), '--cache-dir', ws.cacheDir)
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /^ns-sandbox: NSB_ROOTFS_NOT_FOUND: the rootfs archive .*nope\.tar does not exist/)
      const notThere = await cli('rm', 'ghost', '--cache-dir', ws.cacheDir)
      assert.equal(notThere.code, 1)
      assert.match(notThere.stderr, /NSB_ROOTFS_NOT_FOUND: no rootfs named or with digest "ghost"/)
      const badName = await cli('import', await archive(ws, 'a.tar.gz', 'a'), '--name', 'Bad Name', '--cache-dir', ws.cacheDir)
      assert.equal(badName.code, 1)
      assert.match(badName.stderr, /NSB_INVALID_OPTION: the rootfs name "Bad Name" is not valid/)
      for (const argv of [['frobnicate'], [], ['import'], ['ls', 'extra'], ['import', 'x', '--max-bytes', 'lots'], ['ls', '--bogus']]) {
        const result = await cli(...argv)
        assert.equal(result.code, 2, argv.join(' '))
        assert.match(result.stderr, /^ns-sandbox rootfs: .*\nUsage:/s)
      }
      const help = await cli('--help')
      assert.equal(help.code, 0)
      assert.match(help.stdout, /ns-sandbox rootfs import <archive>/)
    })
  })

  it('takes size limits on the command line', async () => {
    await withWorkspace(async (ws) => {
      const file = ws.file('big.tar')
      await writeTar(file, [{ name: 'big', content: Buffer.alloc(4096) }])
      const result = await cli('import', file, '--max-bytes', '1KiB', '--cache-dir', ws.cacheDir)
      assert.equal(result.code, 1)
      assert.match(result.stderr, /NSB_ROOTFS_TOO_LARGE: .*more than the maxBytes limit of 1 KiB \(1024 bytes\).*--max-bytes/)
      assert.equal((await cli('import', file, '--max-bytes', '4KiB', '--max-entries', '1', '--cache-dir', ws.cacheDir)).code, 0)
    })
  })
})

describe('rootfs import progress bar', () => {
  it('draws on a TTY once the delay has passed, and clears itself', () => {
    const tty = new Capture(true)
    let clock = 0
    const bar = createProgressBar(tty, { delayMs: 300, now: () => clock })
    assert.ok(bar.onProgress !== undefined)
    bar.onProgress(1024, 4096)
    assert.equal(tty.text, '', 'nothing before the delay')
    clock = 301
    bar.onProgress(2048, 4096)
    bar.onProgress(4096, 4096)
    bar.stop()
    assert.match(tty.text, /importing \[.*\] 50% 2 KiB\/4 KiB/)
  })

  it('stays silent when stderr is not a TTY', () => {
    const plain = new Capture(false)
    const bar = createProgressBar(plain, { delayMs: 0 })
    assert.equal(bar.onProgress, undefined)
    bar.stop()
    assert.equal(plain.text, '')
  })
})
