/** Two processes importing the same archive into the same cache at once: both succeed, one entry remains. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { listRootfs } from '../src/rootfs/index.js'
import type { RootfsEntry } from '../src/rootfs/index.js'
import { writeTar } from '../../../fixtures/rootfs/tar-builder.js'
import type { TarEntrySpec } from '../../../fixtures/rootfs/tar-builder.js'
import { createWorkspace } from '../../../fixtures/rootfs/workspace.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const childScript = path.join(repoRoot, 'fixtures/rootfs/import-child.ts')

interface ChildResult { ok: boolean, entry?: RootfsEntry, extracted?: boolean, code?: string, message?: string }

async function runChild (args: string[]): Promise<{ status: number | null, result: ChildResult, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const line = stdout.trim().split('\n').at(-1) ?? ''
  let result: ChildResult
  try {
    result = JSON.parse(line) as ChildResult
  } catch {
    result = { ok: false, message: `no result line; stdout: ${stdout} stderr: ${stderr}` }
  }
  return { status, result, stderr }
}

/** A few MB of files, enough that both importers are still unpacking when the first one finishes. */
function entries (): TarEntrySpec[] {
  const list: TarEntrySpec[] = [{ name: 'data', type: 'directory' }]
  for (let index = 0; index < 24; index++) {
    list.push({ name: `data/blob-${index}`, content: createHash('sha512').update(String(index)).digest().toString('hex').repeat(4000) })
  }
  for (let index = 0; index < 1500; index++) list.push({ name: `small/${index % 30}/file-${index}`, content: `file ${index}\n` })
  return list
}

describe('rootfs import: concurrency', () => {
  it('two processes importing the same archive both succeed and leave one valid entry', { timeout: 120_000 }, async () => {
    const ws = await createWorkspace('nsb-rootfs-parallel-')
    try {
      const archive = ws.file('parallel.tar.gz')
      await writeTar(archive, entries(), { gzip: true })
      let raced = false
      for (let round = 0; round < 3 && !raced; round++) {
        const cacheDir = path.join(ws.dir, `cache-${round}`)
        const barrier = path.join(ws.dir, `barrier-${round}`)
        await fs.mkdir(barrier)
        const runs = await Promise.all([0, 1].map(async (index) => await runChild([archive, cacheDir, 'shared', barrier, String(index), '2'])))
        for (const run of runs) {
          assert.equal(run.status, 0, `${JSON.stringify(run.result)}\n${run.stderr}`)
          assert.equal(run.result.ok, true)
        }
        const [first, second] = runs.map((run) => run.result.entry as RootfsEntry) as [RootfsEntry, RootfsEntry]
        assert.equal(first.digest, second.digest)
        assert.equal(first.dir, second.dir)
        assert.deepEqual(first.names, ['shared'])
        const top = (await fs.readdir(cacheDir)).sort()
        assert.deepEqual(top, ['names', `sha256-${first.digest.slice(7)}`], 'one entry, no temp directory left')
        assert.deepEqual(await fs.readdir(path.join(cacheDir, 'names')), ['shared'])
        const listed = await listRootfs(cacheDir)
        assert.equal(listed.length, 1)
        assert.equal((await fs.readdir(path.join(first.dir, 'data'))).length, 24)
        assert.equal(await fs.readFile(path.join(first.dir, 'small/7/file-1477'), 'utf8'), 'file 1477\n')
        raced = runs.every((run) => run.result.extracted === true)
      }
      assert.ok(raced, 'in at least one round both processes unpacked the archive at the same time')
    } finally {
      await ws.cleanup()
    }
  })
})
