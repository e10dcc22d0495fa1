/** The seed demo: a shell in a root filesystem from an archive, with no Docker daemon. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildBusyboxTarball } from '../../../fixtures/rootfs/build-busybox-rootfs.js'
import { identities } from '../../../test/helpers/identity.js'
import { CLI, sandboxSh, snapshotTree, tempDirFor } from './helpers/cli.js'

for (const who of identities()) {
  describe(`rootfs as ${who.name}`, () => {
    const work = tempDirFor(who, 'nsb-rootfs-')
    const archive = path.join(work.dir, 'busybox.tar.gz')
    const cache = path.join(work.dir, 'cache')
    before(async () => {
      await buildBusyboxTarball(archive)
      fs.chownSync(archive, who.uid, who.gid)
    })
    after(() => { work.remove() })

    it('runs a shell that sees only the archive, as PID 2 of its own tree, and leaves archive and cache unchanged', () => {
      const archiveBefore = fs.readFileSync(archive)
      const run = sandboxSh(who, ['--rootfs', archive, '--root', '--hostname', 'box', '--scratch-dir', path.join(work.dir, 'scratch')],
        'hostname; echo $$; ls /; test -e /work && echo host-visible; echo edited > /etc/motd-nsb && rm /bin/ls && echo changed; grep -x "127.0.0.1.box" /etc/hosts',
        { env: { XDG_CACHE_HOME: cache }, cwd: '/' })
      assert.equal(run.status, 0, run.stderr)
      const lines = run.stdout.split('\n')
      assert.equal(lines[0], 'box')
      assert.equal(lines[1], '2')
      assert.doesNotMatch(run.stdout, /host-visible/)
      assert.match(run.stdout, /changed/)
      // The archive has no /etc/hosts: the sandbox gets one naming its hostname.
      assert.match(run.stdout, /^127\.0\.0\.1\tbox$/m)
      assert.deepEqual(fs.readFileSync(archive), archiveBefore)
      // A second run sees the pristine rootfs again: the cache was not modified.
      const cacheTree = snapshotTree(cache)
      const again = sandboxSh(who, ['--rootfs', archive, '--root', '--scratch-dir', path.join(work.dir, 'scratch')],
        'test -e /bin/ls && echo ls-back; test -e /etc/motd-nsb || echo motd-gone', { env: { XDG_CACHE_HOME: cache }, cwd: '/' })
      assert.match(again.stdout, /ls-back\nmotd-gone/)
      assert.deepEqual(snapshotTree(cache), cacheTree)
    })

    it('gives an interactive shell on a terminal and returns its exit status', () => {
      const command = [process.execPath, CLI, 'run', '--rootfs', archive, '--root', '--hostname', 'box',
        '--scratch-dir', path.join(work.dir, 'scratch'), '--', '/bin/sh'].map((a) => `'${a}'`).join(' ')
      const { file, args } = who.wrap('script', ['-qec', command, '/dev/null'])
      const result = spawnSync(file, args, {
        input: 'test -t 0 && echo on-a-tty\nhostname\nexit 3\n',
        encoding: 'utf8',
        cwd: '/',
        env: { ...who.env, XDG_CACHE_HOME: cache },
        timeout: 30_000
      })
      assert.match(result.stdout, /on-a-tty/)
      assert.match(result.stdout, /box/)
      assert.equal(result.status, 3, result.stdout + result.stderr)
    })
  })
}
