// The Jest benchmark's suites: 50 generated test files in a temp directory, compiled by
// babel-jest (preset-env + preset-typescript, the setup Jest's docs suggest) or ts-jest,
// with four configs that differ only in how files run: stock Jest, the preset with
// isolation 'file', with 'worker', and with its default ('state').
//
//   mixed: each file imports the code under test and has 8 tests: 4 compute (~25 ms of CPU),
//          4 wait 100 ms on timers (stand-ins for I/O: a database, an HTTP call): about
//          0.5 s per file, as an application's unit and integration tests tend to be.
//   light: each file has 2 trivial tests (a few ms): the worst case for a fresh
//          process per file.
//   tsjest: TypeScript files compiled by ts-jest (its default: type-checked, through a
//          language service that a warm process keeps), each importing a typed module
//          and running 4 short tests (~10 ms of CPU in all).
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

const TYPED_LIBRARY = `// Typed code under test.
export interface Order { id: number, items: Array<{ sku: string, price: number, quantity: number }> }

export function total (order: Order): number {
  return order.items.reduce((sum, item) => sum + item.price * item.quantity, 0)
}

export function primesBelow (limit: number): number[] {
  const sieve = new Uint8Array(limit)
  const primes: number[] = []
  for (let n = 2; n < limit; n++) {
    if (sieve[n] === 1) continue
    primes.push(n)
    for (let m = n * n; m < limit; m += n) sieve[m] = 1
  }
  return primes
}

export const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
`

function tsFile (index) {
  return [
    "import { describe, expect, test } from '@jest/globals'",
    "import { type Order, primesBelow, slug, total } from '../src/lib'",
    '',
    `const order: Order = { id: ${index}, items: [{ sku: 'a-${index}', price: ${index + 1}, quantity: 2 }, { sku: 'b', price: 3, quantity: 1 }] }`,
    '',
    `describe('file ${index}', () => {`,
    `  test('total', () => { expect(total(order)).toBe(${2 * (index + 1) + 3}) })`,
    `  test('slug', () => { expect(slug('TS ${index}!')).toBe('ts-${index}') })`,
    `  test('primes', () => { expect(primesBelow(20000).length).toBe(2262) })`,
    `  test('items', () => { expect(order.items.map((item): string => item.sku)).toEqual(['a-${index}', 'b']) })`,
    '})',
    ''
  ].join('\n')
}

export const PROFILES = {
  mixed: { file: mixedFile, tests: 8 },
  light: { file: lightFile, tests: 2 },
  tsjest: { file: tsFile, tests: 4, typescript: true }
}

/**
 * The repository's node_modules, linked entry by entry, with this package copied in as an
 * install from the registry would put it. Linked as the workspace links it, it resolves to
 * packages/jest-env, outside any node_modules, and Jest would run the runner through the
 * suite's transform (babel-jest: ~170 ms of every run, loading its presets), which no
 * installed copy pays.
 */
function installModules (repo, dir) {
  const from = path.join(repo, 'node_modules')
  const to = path.join(dir, 'node_modules')
  fs.mkdirSync(to)
  for (const name of fs.readdirSync(from)) {
    if (name !== 'jest-environment-ns-sandbox') fs.symlinkSync(path.join(from, name), path.join(to, name))
  }
  const source = path.join(repo, 'packages', 'jest-env')
  for (const entry of ['package.json', 'jest-preset.js', 'dist']) {
    fs.cpSync(path.join(source, entry), path.join(to, 'jest-environment-ns-sandbox', entry), { recursive: true })
  }
}

/** Writes one suite; returns its directory. */
export function createSuite (repo, profile) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsb-bench-jest-${profile}-`))
  fs.mkdirSync(path.join(dir, 'tests'))
  fs.mkdirSync(path.join(dir, 'src'))
  installModules(repo, dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true }))
  fs.writeFileSync(path.join(dir, 'babel.config.cjs'),
    "module.exports = { presets: [['@babel/preset-env', { targets: { node: 'current' } }], '@babel/preset-typescript'] }\n")
  const typescript = PROFILES[profile].typescript === true
  if (typescript) {
    fs.writeFileSync(path.join(dir, 'src', 'lib.ts'), TYPED_LIBRARY)
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'es2022', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: true, types: [] },
      include: ['src', 'tests']
    }, null, 2))
  } else {
    fs.writeFileSync(path.join(dir, 'src', 'lib.js'), LIBRARY)
  }
  for (let index = 0; index < FILES; index++) {
    fs.writeFileSync(path.join(dir, 'tests', `file-${String(index).padStart(2, '0')}.test.${typescript ? 'ts' : 'js'}`), PROFILES[profile].file(index))
  }
  const transform = typescript ? "{ '^.+\\\\.ts$': 'ts-jest' }" : "{ '\\\\.[jt]sx?$': 'babel-jest' }"
  const base = `rootDir: __dirname, cacheDirectory: __dirname + '/.jest-cache', transform: ${transform}`
  const sandboxed = (isolation) => `${base}, preset: 'jest-environment-ns-sandbox'` +
    (isolation === undefined ? '' : `, testEnvironmentOptions: { sandbox: { isolation: '${isolation}' } }`)
  fs.writeFileSync(path.join(dir, 'stock.config.cjs'), `module.exports = { ${base} }\n`)
  fs.writeFileSync(path.join(dir, 'file.config.cjs'), `module.exports = { ${sandboxed('file')} }\n`)
  fs.writeFileSync(path.join(dir, 'worker.config.cjs'), `module.exports = { ${sandboxed('worker')} }\n`)
  // The default.
  fs.writeFileSync(path.join(dir, 'state.config.cjs'), `module.exports = { ${sandboxed(undefined)} }\n`)
  return dir
}
