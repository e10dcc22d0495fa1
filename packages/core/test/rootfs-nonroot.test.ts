/**
 * As an unprivileged user: files belong to the caller (the archive's owners cannot be
 * applied), modes are kept, read-only directories do not block extraction or removal.
 * Run as root, the import runs in a child process as nobody (65534).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeTar } from '../../../fixtures/rootfs/tar-builder.js'
import { createWorkspace } from '../../../fixtures/rootfs/workspace.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const isRoot = process.getuid?.() === 0
const NOBODY = 65534

describe('rootfs import as an unprivileged user', () => {
  it('owns what it unpacks, keeps modes, and can remove read-only trees', async () => {
    const ws = await createWorkspace('nsb-rootfs-nonroot-')
    try {
      await fs.chmod(ws.dir, 0o777)
      const archive = ws.file('owned.tar')
      await writeTar(archive, [
        { name: 'ro', type: 'directory', mode: 0o555, uid: 1234, gid: 1234 },
        { name: 'ro/file', content: 'r', mode: 0o444, uid: 1234, gid: 1234 },
        { name: 'locked', type: 'directory', mode: 0o000 },
        { name: 'locked/secret', content: 's', mode: 0o600 },
        // Modes of nested directories are applied deepest first, or locked/inner is out of reach.
        { name: 'locked/inner', type: 'directory', mode: 0o700 },
        { name: 'su', content: 'x', mode: 0o4755, uid: 0, gid: 0 },
        { name: 'link', type: 'symlink', linkname: 'su', uid: 1234, gid: 1234 }
      ])
      await fs.chmod(archive, 0o644)
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'fixtures/rootfs/nonroot-child.ts'), archive, ws.cacheDir], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(isRoot ? { uid: NOBODY, gid: NOBODY, env: { ...process.env, HOME: ws.dir } } : {})
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
      assert.equal(status, 0, stderr)
      const report = JSON.parse(stdout) as {
        uid: number
        gid: number
        stats: Record<string, { uid: number, gid: number, mode: number }>
        warnings: string[]
        left: string[]
        listed: number
      }
      assert.notEqual(report.uid, 0)
      for (const [name, stat] of Object.entries(report.stats)) {
        assert.deepEqual([stat.uid, stat.gid], [report.uid, report.gid], `${name} belongs to the caller`)
      }
      assert.equal(report.stats.ro?.mode, 0o555)
      assert.equal(report.stats['ro/file']?.mode, 0o444)
      assert.equal(report.stats.locked?.mode, 0o000)
      assert.equal(report.stats.su?.mode, 0o755, 'setuid dropped')
      assert.ok(report.warnings.some((warning) => /could not apply the archive's file owners/.test(warning)), report.warnings.join('\n'))
      assert.deepEqual(report.left, [], 'the entry, read-only directories included, was removed')
      assert.equal(report.listed, 0)
    } finally {
      await ws.cleanup()
    }
  })
})
