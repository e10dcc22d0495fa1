// Bundles the in-sandbox bootstrap into one CommonJS file. It runs once per test file
// before any test code, and Node 20 takes ~15 ms to load its dozen ES modules one by one;
// the bundle loads in under a millisecond. koffi stays external (loaded by path at run time).
import { build } from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const core = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../packages/core')
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' }
await build({
  ...common,
  entryPoints: [path.join(core, 'src/inside/bootstrap.ts')],
  outfile: path.join(core, 'dist/inside/bootstrap.cjs'),
  external: ['koffi']
})
// PID 1's script (perl) sits next to the bootstrap; host/sandbox.ts finds it there.
fs.copyFileSync(path.join(core, 'src/inside/init.pl'), path.join(core, 'dist/inside/init.pl'))
