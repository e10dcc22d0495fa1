// Installs the runner versions the end-to-end tests also cover (Vitest 4, Jest 29):
// each lives in fixtures/runners/<name>/ with its own lockfile, so the root keeps one
// version of each runner and `npm ci` stays the one install command.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..')
const runners = path.join(root, 'fixtures', 'runners')
for (const name of fs.existsSync(runners) ? fs.readdirSync(runners).sort() : []) {
  const dir = path.join(runners, name)
  if (!fs.existsSync(path.join(dir, 'package-lock.json'))) continue
  console.log(`installing fixture runner ${name}`)
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' })
}
