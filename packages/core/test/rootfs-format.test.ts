/** Pure parts of the rootfs import: format sniffing, member names, names, digests, limits. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { SandboxError } from '../src/errors.js'
import type { SandboxErrorCode } from '../src/errors.js'
import { assertDecompressible, isTarHeaderBlock, sniffBytes, zstdSupported } from '../src/rootfs/archive-format.js'
import { defaultRootfsCacheDir, isValidName, validateName } from '../src/rootfs/cache-layout.js'
import { parseDigest } from '../src/rootfs/digest.js'
import { entryPathParts } from '../src/rootfs/entry-path.js'
import { ExtractBudget } from '../src/rootfs/limits.js'
import { ociArchitecture } from '../src/rootfs/oci-image.js'
import { buildTar, gzip } from '../../../fixtures/rootfs/tar-builder.js'

function throwsCode (run: () => unknown, code: SandboxErrorCode, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof SandboxError)
    assert.equal(error.code, code)
    if (message !== undefined) assert.match(error.message, message)
    return true
  })
}

describe('archive format sniffing', () => {
  it('tells compression by magic bytes, whatever the name', async () => {
    const tar = await buildTar([{ name: 'a', content: 'a' }])
    assert.deepEqual(sniffBytes(tar.subarray(0, 512), 'x.tar.gz'), { compression: 'none' })
    assert.deepEqual(sniffBytes(gzip(tar).subarray(0, 512), 'x.tar'), { compression: 'gzip' })
    assert.deepEqual(sniffBytes(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]), 'x'), { compression: 'zstd' })
    assert.deepEqual(sniffBytes(Buffer.alloc(512), 'empty.tar'), { compression: 'none' }, 'an all-zero block is an empty tar')
  })

  it('refuses what is not an archive, naming the fix', () => {
    throwsCode(() => sniffBytes(Buffer.from('#!/bin/sh\necho hi\n'.repeat(40)), 'script'), 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /script is not a tar archive/)
    throwsCode(() => sniffBytes(Buffer.alloc(0), 'nothing'), 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /nothing is empty/)
    throwsCode(() => sniffBytes(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'r.tar.xz'), 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /xz -d r\.tar\.xz/)
    throwsCode(() => sniffBytes(Buffer.from('BZh91AY&SY'), 'r.tbz'), 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /bzip2 -d r\.tbz/)
    throwsCode(() => sniffBytes(Buffer.from([0x50, 0x4b, 0x03, 0x04]), 'r.zip'), 'NSB_ROOTFS_UNSUPPORTED_FORMAT', /zip file/)
  })

  it('checks tar header checksums', async () => {
    const block = (await buildTar([{ name: 'etc/passwd', content: 'root' }])).subarray(0, 512)
    assert.equal(isTarHeaderBlock(block), true)
    const corrupt = Buffer.from(block)
    corrupt[0] = (corrupt[0] ?? 0) ^ 1
    assert.equal(isTarHeaderBlock(corrupt), false)
    assert.equal(isTarHeaderBlock(block.subarray(0, 100)), false)
  })

  it('has zstd exactly where Node has it', () => {
    if (zstdSupported()) {
      assertDecompressible('zstd', 'x.tar.zst')
    } else {
      throwsCode(() => { assertDecompressible('zstd', 'x.tar.zst') }, 'NSB_ROOTFS_UNSUPPORTED_FORMAT', new RegExp(`Node\\.js \\(${process.version.replace(/\./g, '\\.')}\\) has no zstd.*>= 22\\.15.*zstd -d x\\.tar\\.zst`))
    }
    assertDecompressible('gzip', 'x.tar.gz')
    assertDecompressible('none', 'x.tar')
  })
})

describe('member names', () => {
  it('normalises names relative to the root', () => {
    assert.deepEqual(entryPathParts('usr/bin/env', 'a'), ['usr', 'bin', 'env'])
    assert.deepEqual(entryPathParts('/etc/passwd', 'a'), ['etc', 'passwd'])
    assert.deepEqual(entryPathParts('./a//b/./c/', 'a'), ['a', 'b', 'c'])
    assert.deepEqual(entryPathParts('./', 'a'), [])
    assert.deepEqual(entryPathParts('.wh..wh..opq', 'a'), ['.wh..wh..opq'])
    assert.deepEqual(entryPathParts('a/..b/c..', 'a'), ['a', '..b', 'c..'])
  })

  it('refuses .. components and NUL bytes', () => {
    throwsCode(() => entryPathParts('../etc/passwd', 'x.tar'), 'NSB_ROOTFS_UNSAFE', /x\.tar: the member "\.\.\/etc\/passwd" has a "\.\." component/)
    throwsCode(() => entryPathParts('a/b/../../..', 'x.tar'), 'NSB_ROOTFS_UNSAFE')
    throwsCode(() => entryPathParts('/..', 'x.tar'), 'NSB_ROOTFS_UNSAFE')
    throwsCode(() => entryPathParts('a\0b', 'x.tar'), 'NSB_ROOTFS_INVALID')
  })
})

describe('cache names, digests and location', () => {
  it('accepts names of [a-z0-9][a-z0-9._-]*', () => {
    for (const name of ['busybox', 'debian-12.5', 'a', '0_x', 'x'.repeat(128)]) assert.equal(isValidName(name), true, name)
    for (const name of ['', 'Busybox', '-x', '.hidden', 'a/b', 'a b', '..', 'x'.repeat(129), 'naïve']) assert.equal(isValidName(name), false, name)
    throwsCode(() => { validateName('../evil') }, 'NSB_INVALID_OPTION', /names are 1-128 characters/)
  })

  it('parses sha256 and sha512 digests only', () => {
    assert.deepEqual(parseDigest(`sha256:${'a'.repeat(64)}`), { algorithm: 'sha256', hex: 'a'.repeat(64) })
    assert.equal(parseDigest(`sha256:${'a'.repeat(63)}`), undefined)
    assert.equal(parseDigest(`sha256:${'A'.repeat(64)}`), undefined)
    assert.equal(parseDigest(`md5:${'a'.repeat(32)}`), undefined)
    assert.equal(parseDigest(`sha256:../../${'a'.repeat(58)}`), undefined)
  })

  it('lives under XDG_CACHE_HOME, else ~/.cache', () => {
    const saved = process.env.XDG_CACHE_HOME
    try {
      process.env.XDG_CACHE_HOME = '/var/cache/me'
      assert.equal(defaultRootfsCacheDir(), '/var/cache/me/ns-sandbox/rootfs')
      process.env.XDG_CACHE_HOME = 'relative/ignored'
      assert.equal(defaultRootfsCacheDir(), path.join(os.homedir(), '.cache/ns-sandbox/rootfs'))
      delete process.env.XDG_CACHE_HOME
      assert.equal(defaultRootfsCacheDir(), path.join(os.homedir(), '.cache/ns-sandbox/rootfs'))
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME
      else process.env.XDG_CACHE_HOME = saved
    }
  })

  it('maps Node architectures to OCI ones', () => {
    assert.equal(ociArchitecture('x64'), 'amd64')
    assert.equal(ociArchitecture('arm64'), 'arm64')
    assert.equal(ociArchitecture('ppc64'), 'ppc64le')
    assert.equal(ociArchitecture('ia32'), '386')
  })
})

describe('archive bomb budget', () => {
  it('counts entries and bytes against the limits', () => {
    const budget = new ExtractBudget('bomb.tar', 100, 2)
    budget.addEntry()
    budget.addEntry()
    throwsCode(() => { budget.addEntry() }, 'NSB_ROOTFS_TOO_LARGE', /bomb\.tar has more than 2 entries \(the maxEntries limit\)/)
    const bytes = new ExtractBudget('bomb.tar', 100, 10)
    bytes.addFileBytes(100, 'a')
    throwsCode(() => { bytes.addFileBytes(1, 'b') }, 'NSB_ROOTFS_TOO_LARGE', /maxBytes limit of 100 bytes \(reached at b\)/)
  })

  it('refuses negative or fractional limits', () => {
    throwsCode(() => new ExtractBudget('x', -1), 'NSB_INVALID_OPTION', /maxBytes/)
    throwsCode(() => new ExtractBudget('x', 10, 1.5), 'NSB_INVALID_OPTION', /maxEntries/)
  })
})
