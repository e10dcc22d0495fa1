// The benchmark's test suite: 100 light Vitest test files in a temp directory, a
// fifth of them importing real dependencies (zod, semver, picomatch, acorn, ms), with
// two configs that differ only in the pool: Vitest's stock `forks`, or nsSandbox().
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const DEPENDENCIES = [
  ["import { z } from 'zod'", "expect(z.object({ n: z.number() }).parse({ n: INDEX }).n).toBe(INDEX)"],
  ["import semver from 'semver'", "expect(semver.satisfies(`1.${INDEX}.0`, '>=1.0.0')).toBe(true)"],
  ["import picomatch from 'picomatch'", "expect(picomatch('*.js')(`file-${INDEX}.js`)).toBe(true)"],
  ["import * as acorn from 'acorn'", "expect(acorn.parse(`const x = ${INDEX}`, { ecmaVersion: 2022 }).body).toHaveLength(1)"],
  ["import ms from 'ms'", "expect(ms(`${INDEX}s`)).toBe(INDEX * 1000)"]
]

function testFile (index) {
  const lines = ['/* global test, expect, describe */', "import { fib, words } from '../src/util.js'"]
  const dependency = index % 5 === 0 ? DEPENDENCIES[(index / 5) % DEPENDENCIES.length] : undefined
  if (dependency !== undefined) lines.push(dependency[0])
  lines.push('', `describe('file ${index}', () => {`,
    `  test('arithmetic', () => { expect(fib(${10 + (index % 10)})).toBeGreaterThan(0) })`,
    `  test('strings', () => { expect(words('a b c ${index}')).toHaveLength(4) })`)
  if (dependency !== undefined) lines.push(`  test('dependency', () => { ${dependency[1].replaceAll('INDEX', String(index))} })`)
  lines.push('})', '')
  return lines.join('\n')
}

/** Writes the suite; returns its directory. `pluginOptions` go to nsSandbox(). */
export function createSuite (repo, pluginOptions = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-bench-vitest-'))
  fs.mkdirSync(path.join(dir, 'tests'))
  fs.mkdirSync(path.join(dir, 'src'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  fs.writeFileSync(path.join(dir, 'src/util.js'), [
    'export const fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2))',
    "export const words = (text) => text.split(' ')", ''
  ].join('\n'))
  for (let index = 0; index < 100; index++) {
    fs.writeFileSync(path.join(dir, 'tests', `file-${String(index).padStart(3, '0')}.test.js`), testFile(index))
  }
  const test = "{ globals: true, include: ['tests/**/*.test.js'] }"
  fs.writeFileSync(path.join(dir, 'stock.config.js'), `export default { cacheDir: '.vite', test: ${test} }\n`)
  fs.writeFileSync(path.join(dir, 'sandbox.config.js'), [
    "import { nsSandbox } from '@ns-sandbox/vitest'",
    `export default { cacheDir: '.vite', plugins: [nsSandbox(${JSON.stringify(pluginOptions)})], test: ${test} }`, ''
  ].join('\n'))
  // node_modules: the repository's packages, linked one by one (Vite writes its temp files there)
  const modules = path.join(dir, 'node_modules')
  fs.mkdirSync(modules)
  const source = path.join(repo, 'node_modules')
  for (const name of fs.readdirSync(source)) {
    if (!name.startsWith('.')) fs.symlinkSync(path.join(source, name), path.join(modules, name))
  }
  return dir
}
