// Root filesystem import: `importRootfs` of a ~100 MB tar.gz (made from this machine's own
// /usr files) versus `tar -xzf` of the same archive into a fresh directory. Interleaved
// runs, medians, one report. Not part of the tests.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { importRootfs } from '@ns-sandbox/core/rootfs'

const here = path.dirname(fileURLToPath(import.meta.url))
const runs = Number(process.env.BENCH_RUNS ?? 3)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nsb-bench-rootfs-'))
const archive = path.join(work, 'rootfs.tar.gz')

// Real files until ~280 MB unpacked (about 100 MB as tar.gz): whole entries of these directories.
const budget = Number(process.env.BENCH_UNPACKED_MB ?? 280) * 1024 * 1024
const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/share', '/usr/lib', '/usr/bin']
const picked = []
let total = 0
for (const dir of candidates) {
  if (total >= budget || !fs.existsSync(dir)) continue
  for (const name of fs.readdirSync(dir).sort()) {
    if (total >= budget) break
    const full = path.join(dir, name)
    const du = spawnSync('du', ['-sb', full], { encoding: 'utf8' })
    const bytes = Number(du.stdout.split('\t')[0] ?? 0)
    if (!Number.isFinite(bytes) || bytes === 0 || bytes > budget - total + 20 * 1024 * 1024) continue
    picked.push(full.slice(1))
    total += bytes
  }
}
const tar = spawnSync('tar', ['-czf', archive, '-C', '/', '--ignore-failed-read', ...picked], { stdio: ['ignore', 'ignore', 'pipe'] })
if (!fs.existsSync(archive)) throw new Error(`tar failed: ${tar.stderr}`)
const archiveBytes = fs.statSync(archive).size

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const samples = { tar: [], import: [] }
for (let i = 0; i < runs; i++) {
  const tarDir = path.join(work, `tar-${i}`)
  fs.mkdirSync(tarDir)
  let start = performance.now()
  spawnSync('tar', ['-xzf', archive, '-C', tarDir])
  samples.tar.push(performance.now() - start)
  fs.rmSync(tarDir, { recursive: true, force: true })

  const cacheDir = path.join(work, `cache-${i}`)
  start = performance.now()
  await importRootfs(archive, { cacheDir })
  samples.import.push(performance.now() - start)
  fs.rmSync(cacheDir, { recursive: true, force: true })
}
const report = {
  archiveMiB: Math.round(archiveBytes / 1024 / 1024),
  unpackedMiB: Math.round(total / 1024 / 1024),
  runs,
  medianMs: { tarXzf: median(samples.tar), importRootfs: median(samples.import) },
  ratio: median(samples.import) / median(samples.tar)
}
console.log(`rootfs import benchmark: ${report.archiveMiB} MiB tar.gz (${report.unpackedMiB} MiB unpacked), ${runs} interleaved runs`)
console.log(`  tar -xzf       ${Math.round(report.medianMs.tarXzf)} ms`)
console.log(`  importRootfs   ${Math.round(report.medianMs.importRootfs)} ms   (x${report.ratio.toFixed(2)}, target <= 1.5)`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'rootfs-import.json'), JSON.stringify(report, null, 2) + '\n')
fs.rmSync(work, { recursive: true, force: true })
