// Reads one run's NS_SANDBOX_JEST_TRACE (JSON lines from the runner) into a breakdown of
// where a sandboxed file's time goes.
//
//   hostSpawnMs  host side of core's spawnSandbox (plan, scratch, cgroup, spawn)
//   setupMs      namespaces, mounts, pivot_root inside (core's own figure)
//   bootMs       process start to the Jest child's first line (Node, core's bootstrap)
//   loadMs       the child loading Jest, the transforms and the environment, and its
//                warm-up run (ahead of the file, while the lane runs an earlier one)
//   runMs        the file itself, as jest-runner's in-band path runs it
//   laneWaitMs   how long the lane waited for its sandbox to be warm (on the critical path)
//   endMs        the file's report to the sandbox's end (kernel verdict, cleanup; off the lane; file isolation)
//   resetMs      isolation 'state': reset() as the host sees it (resetInitMs: the init's own figure),
//                started when a file is done; resetWaitMs: what the lane still waited for it
//                before the next file (on the critical path); resets: how many; keptLayers:
//                copy-on-write layers a reset kept because no file had changed them (median)
//   sandboxes    sandboxes started; runnerStartMs: the runner's call to its first sandbox (options, live paths)
export function median (values) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function breakdown (text, wallMs, isolation) {
  const lines = text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
  const byFile = new Map()
  const entry = (file) => {
    if (!byFile.has(file)) byFile.set(file, {})
    return byFile.get(file)
  }
  let start
  const resets = { ms: [], initMs: [], waitMs: [], kept: [] }
  for (const line of lines) {
    if (line.step === 'run-tests') start ??= line.t
    if (line.step === 'reset') { resets.ms.push(line.ms); resets.initMs.push(line.initMs); resets.kept.push(line.kept) }
    if (line.step === 'reset-wait') resets.waitMs.push(line.ms)
    if (line.file === undefined) continue
    const e = entry(line.file)
    if (line.step === 'spawn') e.spawn = line.t
    else if (line.step === 'spawned') e.hostSpawnMs = line.t - (e.spawn ?? line.t)
    else if (line.step === 'warm') Object.assign(e, { bootMs: line.bootMs, loadMs: line.loadMs })
    else if (line.step === 'run') e.run = line.t
    else if (line.step === 'done') Object.assign(e, { done: line.t, runMs: line.runMs, laneWaitMs: line.t - (e.run ?? line.t) - (line.runMs ?? 0) })
    else if (line.step === 'ended') Object.assign(e, { endMs: line.t - (e.done ?? line.t), setupMs: line.setupMs })
  }
  const files = [...byFile.values()]
  const pick = (key) => median(files.map((f) => f[key]).filter((v) => typeof v === 'number'))
  const sum = (key) => files.map((f) => f[key]).filter((v) => typeof v === 'number').reduce((a, b) => a + b, 0)
  const firstSpawn = Math.min(...files.map((f) => f.spawn).filter((v) => typeof v === 'number'))
  return {
    hostSpawnMs: pick('hostSpawnMs'),
    setupMs: pick('setupMs'),
    bootMs: pick('bootMs'),
    loadMs: pick('loadMs'),
    runMs: pick('runMs'),
    laneWaitMs: pick('laneWaitMs'),
    endMs: isolation === 'file' ? pick('endMs') : null,
    ...(isolation === 'state'
      ? { resetMs: median(resets.ms), resetInitMs: median(resets.initMs), resetWaitMs: median(resets.waitMs), totalResetWaitMs: resets.waitMs.reduce((a, b) => a + b, 0), resets: resets.ms.length, keptLayers: median(resets.kept.filter((v) => typeof v === 'number')) }
      : {}),
    totalRunMs: Math.round(sum('runMs')),
    totalLaneWaitMs: Math.round(sum('laneWaitMs')),
    sandboxes: files.filter((f) => f.spawn !== undefined).length,
    runnerStartMs: start === undefined ? null : Math.round(firstSpawn - start),
    wallMs: Math.round(wallMs)
  }
}
