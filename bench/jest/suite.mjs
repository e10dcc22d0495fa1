// The Jest benchmark's suites: 50 generated test files in a temp directory, compiled by
// babel-jest (preset-env + preset-typescript, the setup Jest's docs suggest), with three
// configs that differ only in how files run: stock Jest, the preset with isolation
// 'file', the preset with isolation 'worker'.
//
//   mixed: each file imports the code under test and has 8 tests: 4 compute (~25 ms of CPU),
//          4 wait 100 ms on timers (stand-ins for I/O: a database, an HTTP call): about
//          0.5 s per file, as an application's unit and integration tests tend to be.
//   light: each file has 2 trivial tests (a few ms): the worst case for a fresh
//          process per file.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const FILES = 50

const LIBRARY = `// Code under test.
export function primesBelow (limit) {
  const sieve = new Uint8Array(limit)
  const primes = []
  for (let n = 2; n < limit; n++) {
    if (sieve[n] === 1) continue
    primes.push(n)
    for (let m = n * n; m < limit; m += n) sieve[m] = 1
  }
  return primes
}

/** A fixed amount of CPU work (about 25 ms per 500 rounds on the machine it was written on). */
export function work (rounds) {
  let found = 0
  for (let i = 0; i < rounds; i++) found += primesBelow(2000).length
  return found
}

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function slug (text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}
`

function mixedFile (index) {
  const lines = [
    "import { describe, expect, test } from '@jest/globals'",
    "import { primesBelow, slug, wait, work } from '../src/lib.js'",
    '',
    `describe('file ${index}', () => {`
  ]
  for (let t = 0; t < 4; t++) {
    lines.push(`  test('computes ${t}', () => {`,
      '    expect(work(500)).toBeGreaterThan(0)',
      `    expect(primesBelow(${100 + index + t}).length).toBeGreaterThan(20)`,
      '  })',
      `  test('waits ${t}', async () => {`,
      '    await wait(100)',
      `    expect(slug('File ${index}: Test ${t}!')).toBe('file-${index}-test-${t}')`,
      '  })')
  }
  lines.push('})', '')
  return lines.join('\n')
}

function lightFile (index) {
  return [
    "import { expect, test } from '@jest/globals'",
    "import { slug } from '../src/lib.js'",
    '',
    `test('slug ${index}', () => { expect(slug('Light ${index}')).toBe('light-${index}') })`,
    `test('arithmetic ${index}', () => { expect(${index} + 1).toBe(${index + 1}) })`,
    ''
  ].join('\n')
}

export const PROFILES = { mixed: { file: mixedFile, tests: 8 }, light: { file: lightFile, tests: 2 } }

/** Writes one suite; returns its directory. */
export function createSuite (repo, profile) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsb-bench-jest-${profile}-`))
  fs.mkdirSync(path.join(dir, 'tests'))
  fs.mkdirSync(path.join(dir, 'src'))
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true }))
  fs.writeFileSync(path.join(dir, 'babel.config.cjs'),
    "module.exports = { presets: [['@babel/preset-env', { targets: { node: 'current' } }], '@babel/preset-typescript'] }\n")
  fs.writeFileSync(path.join(dir, 'src', 'lib.js'), LIBRARY)
  for (let index = 0; index < FILES; index++) {
    fs.writeFileSync(path.join(dir, 'tests', `file-${String(index).padStart(2, '0')}.test.js`), PROFILES[profile].file(index))
  }
  const base = "rootDir: __dirname, cacheDirectory: __dirname + '/.jest-cache', transform: { '\\\\.[jt]sx?$': 'babel-jest' }"
  fs.writeFileSync(path.join(dir, 'stock.config.cjs'), `module.exports = { ${base} }\n`)
  fs.writeFileSync(path.join(dir, 'file.config.cjs'), `module.exports = { ${base}, preset: 'jest-environment-ns-sandbox' }\n`)
  fs.writeFileSync(path.join(dir, 'worker.config.cjs'),
    `module.exports = { ${base}, preset: 'jest-environment-ns-sandbox', testEnvironmentOptions: { sandbox: { isolation: 'worker' } } }\n`)
  return dir
}
