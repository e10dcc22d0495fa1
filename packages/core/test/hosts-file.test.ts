/** The sandbox's generated /etc/hosts: its content, and what it is made from. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { hostsFileContent, writeHostsFile } from '../src/host/hosts-file.js'

describe('hosts file', () => {
  it('puts the hostname on 127.0.0.1 first and keeps every entry of the base', () => {
    const base = '127.0.0.1 localhost\n10.0.0.7 db.internal db\n'
    const content = hostsFileContent(base, 'box')
    const lines = content.split('\n')
    assert.match(lines[0] ?? '', /^# /)
    assert.equal(lines[1], '127.0.0.1\tbox')
    assert.ok(content.endsWith(base))
    assert.ok(hostsFileContent('10.0.0.7 db', 'box').endsWith('10.0.0.7 db\n'), 'a last line without a newline gets one')
    // No base (a root filesystem without /etc/hosts): localhost as Docker writes it.
    assert.match(hostsFileContent(undefined, 'box'), /^127\.0\.0\.1\tbox\n127\.0\.0\.1\tlocalhost\n::1\tlocalhost /m)
  })

  it('reads a root filesystem\'s /etc/hosts, never through a symlink, and says what it would bind over', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-hosts-'))
    try {
      const rootfs = path.join(work, 'rootfs')
      const scratch = path.join(work, 'scratch')
      fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true })
      fs.mkdirSync(scratch)
      // none yet: created from the defaults
      assert.deepEqual(writeHostsFile(scratch, rootfs, 'box'), { file: path.join(scratch, 'hosts'), existing: 'missing' })
      assert.match(fs.readFileSync(path.join(scratch, 'hosts'), 'utf8'), /\tlocalhost\n/)
      // its own entries are kept
      fs.writeFileSync(path.join(rootfs, 'etc/hosts'), '192.0.2.1 image-host\n')
      assert.deepEqual(writeHostsFile(scratch, rootfs, 'box'), { file: path.join(scratch, 'hosts'), existing: 'file' })
      assert.match(fs.readFileSync(path.join(scratch, 'hosts'), 'utf8'), /^127\.0\.0\.1\tbox\n192\.0\.2\.1 image-host\n$/m)
      // a symlink (which could name a host file) is left alone: nothing to bind
      fs.rmSync(path.join(rootfs, 'etc/hosts'))
      fs.symlinkSync('/etc/hosts', path.join(rootfs, 'etc/hosts'))
      assert.equal(writeHostsFile(scratch, rootfs, 'box'), undefined)
      // no /etc at all: still created
      assert.equal(writeHostsFile(scratch, path.join(work, 'empty-rootfs'), 'box')?.existing, 'missing')
      // the host's own, when the sandbox sees the host
      const host = writeHostsFile(scratch, undefined, 'box')
      if (fs.lstatSync('/etc/hosts').isFile()) {
        assert.equal(host?.existing, 'file')
        assert.ok(fs.readFileSync(path.join(scratch, 'hosts'), 'utf8').endsWith(fs.readFileSync('/etc/hosts', 'utf8')))
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  })
})
