/**
 * The layer walker on real overlayfs layers: a test overlay is mounted in a user
 * namespace (as the sandbox does), changed, unmounted, and its upper directory read.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { identities } from '../../../test/helpers/identity.js'
import { walkLayer, type WalkRules } from '../src/report/layer-walk.js'
import { isOpaqueDirectory } from '../src/report/xattr.js'
import { tempDirFor } from './helpers/cli.js'

const CHANGES = [
  'echo new > created.txt', 'echo more >> modified.txt', 'rm deleted.txt', 'rm -r gone-dir',
  'rm -r replaced-dir', 'mkdir replaced-dir', 'echo x > replaced-dir/fresh.txt', 'chmod 700 chmod-dir',
  'mkdir -p new-dir/sub', 'touch new-dir/sub/a new-dir/b', 'ln -s created.txt link', 'rm file-to-dir', 'mkdir file-to-dir',
  'echo x > deep/nested/file.txt', 'mkdir mountpoint', 'touch mountpoint/hidden', 'mkdir planned', 'touch planned/inside.txt',
  'cat untouched.txt > /dev/null'
].join(' && ')

function buildLower (dir: string): void {
  for (const d of ['gone-dir', 'replaced-dir', 'chmod-dir', 'deep/nested']) fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 })
  fs.chmodSync(path.join(dir, 'chmod-dir'), 0o755)
  for (const f of ['modified.txt', 'deleted.txt', 'gone-dir/x', 'replaced-dir/old.txt', 'file-to-dir', 'deep/nested/other.txt', 'untouched.txt']) {
    fs.writeFileSync(path.join(dir, f), 'host\n')
  }
}

const rules: WalkRules = {
  isMountPoint: (p) => p === '/srv/app/mountpoint',
  isPlanned: (p) => p === '/srv/app/planned',
  isOpaque: isOpaqueDirectory
}

for (const who of identities()) {
  describe(`layer walker on a real overlay, made as ${who.name}`, () => {
    it('tells created, modified, deleted and replaced apart, and skips copy-ups and scaffolding', async () => {
      const work = tempDirFor(who, 'nsb-walk-')
      try {
        const [lower, upper, workDir, merged] = ['lower', 'upper', 'work', 'merged'].map((name) => path.join(work.dir, name)) as [string, string, string, string]
        for (const dir of [lower, upper, workDir, merged]) fs.mkdirSync(dir)
        buildLower(lower)
        spawnSync('chown', ['-R', `${who.uid}:${who.gid}`, work.dir])
        const script = `mount -t overlay overlay -o lowerdir=${lower},upperdir=${upper},workdir=${workDir},userxattr ${merged} && cd ${merged} && ${CHANGES}`
        const { file, args } = who.wrap('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script])
        const run = spawnSync(file, args, { encoding: 'utf8' })
        assert.equal(run.status, 0, run.stderr)

        const changes = await walkLayer({ dir: upper, sandboxPath: '/srv/app', lowerDir: lower }, rules)
        assert.deepEqual(changes, [
          { path: '/srv/app/chmod-dir', kind: 'modified', type: 'dir' },
          { path: '/srv/app/created.txt', kind: 'created', type: 'file' },
          { path: '/srv/app/deep/nested/file.txt', kind: 'created', type: 'file' },
          { path: '/srv/app/deleted.txt', kind: 'deleted', type: 'file' },
          { path: '/srv/app/file-to-dir', kind: 'replaced', type: 'dir', entries: 0 },
          { path: '/srv/app/gone-dir', kind: 'deleted', type: 'dir' },
          { path: '/srv/app/link', kind: 'created', type: 'symlink' },
          { path: '/srv/app/modified.txt', kind: 'modified', type: 'file' },
          { path: '/srv/app/new-dir', kind: 'created', type: 'dir', entries: 3 },
          { path: '/srv/app/planned/inside.txt', kind: 'created', type: 'file' },
          { path: '/srv/app/replaced-dir', kind: 'replaced', type: 'dir' },
          { path: '/srv/app/replaced-dir/fresh.txt', kind: 'created', type: 'file' }
        ])
        assert.equal(isOpaqueDirectory(path.join(upper, 'replaced-dir')), true)
        assert.equal(isOpaqueDirectory(path.join(upper, 'deep')), false)
      } finally {
        work.remove()
      }
    })
  })
}

describe('layer walker on a fresh area', () => {
  it('reports everything as created, directories once with their entry count', async () => {
    const area = fs.mkdtempSync('/tmp/nsb-fresh-')
    try {
      fs.writeFileSync(path.join(area, 'a.txt'), '')
      fs.mkdirSync(path.join(area, 'cache/x'), { recursive: true })
      fs.writeFileSync(path.join(area, 'cache/x/1'), '')
      fs.symlinkSync('/nowhere', path.join(area, 'dangling'))
      const changes = await walkLayer({ dir: area, sandboxPath: '/tmp' }, { isMountPoint: () => false, isPlanned: () => false, isOpaque: () => false })
      assert.deepEqual(changes, [
        { path: '/tmp/a.txt', kind: 'created', type: 'file' },
        { path: '/tmp/cache', kind: 'created', type: 'dir', entries: 2 },
        { path: '/tmp/dangling', kind: 'created', type: 'symlink' }
      ])
      assert.deepEqual(await walkLayer({ dir: path.join(area, 'missing'), sandboxPath: '/run' }, rules), [])
    } finally {
      fs.rmSync(area, { recursive: true, force: true })
    }
  })
})
