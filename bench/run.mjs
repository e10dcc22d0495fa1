// `npm run bench`: every benchmark in this folder, one after the other (or the ones named).
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const benches = ['core', 'rootfs-import', 'vitest', 'jest', 'forward']
  .filter((name) => fs.existsSync(path.join(here, `${name}.mjs`)))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
let status = 0
for (const name of benches) {
  console.log(`\n### ${name}`)
  status ||= spawnSync(process.execPath, [path.join(here, `${name}.mjs`)], { stdio: 'inherit' }).status ?? 1
}
process.exitCode = status
