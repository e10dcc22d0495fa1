/** Directory facts are reused only while the directory is unchanged, and never right after a change. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { DirectoryFacts } from '../src/host/dir-facts.js'

function countingReader (): { reads: () => number, facts: DirectoryFacts<string[]> } {
  let reads = 0
  return { reads: () => reads, facts: new DirectoryFacts((dir) => { reads++; return fs.readdirSync(dir).sort() }) }
}

describe('directory facts', () => {
  it('rereads a directory that changed within the last second (a change in the same clock tick would not show)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-dir-facts-'))
    try {
      const { reads, facts } = countingReader()
      facts.get(dir)
      facts.get(dir)
      assert.equal(reads(), 2)
    } finally {
      fs.rmSync(dir, { recursive: true })
    }
  })

  it('reuses a settled directory\'s facts until an entry is added, removed or renamed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-dir-facts-'))
    try {
      fs.writeFileSync(path.join(dir, 'a'), '')
      await sleep(1100)
      const { reads, facts } = countingReader()
      assert.deepEqual(facts.get(dir), ['a'])
      assert.deepEqual(facts.get(dir), ['a'])
      assert.equal(reads(), 1)
      fs.writeFileSync(path.join(dir, 'a'), 'content changes no entry')
      assert.deepEqual(facts.get(dir), ['a'])
      assert.equal(reads(), 1)
      fs.renameSync(path.join(dir, 'a'), path.join(dir, 'b'))
      assert.deepEqual(facts.get(dir), ['b'])
      assert.equal(reads(), 2)
      fs.rmSync(path.join(dir, 'b'))
      assert.deepEqual(facts.get(dir), [])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('rereads a directory replaced by another of the same name', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-dir-facts-'))
    try {
      const dir = path.join(parent, 'd')
      fs.mkdirSync(dir)
      await sleep(1100)
      const { facts } = countingReader()
      assert.deepEqual(facts.get(dir), [])
      const other = path.join(parent, 'e')
      fs.mkdirSync(other)
      fs.writeFileSync(path.join(other, 'x'), '')
      fs.rmdirSync(dir)
      fs.renameSync(other, dir)
      assert.deepEqual(facts.get(dir), ['x'])
    } finally {
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })
})
