/**
 * Starting a sandbox: read the host's facts, spawn the launch chain, create scratch and
 * cgroup while it starts, write the configuration on the status pipe, and hand the child
 * to a Sandbox (host/sandbox.ts), which supervises it. What is launched is worked out by
 * the pure host/launch-spec.ts.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { SandboxError } from '../errors.js'
import { koffiAddonPath } from '../ffi/addon-path.js'
import { HostForwarder } from '../forward/host-forwarder.js'
import type { ResolvedOptions } from '../options/schema.js'
import { PlanError } from '../plan/mount-plan.js'
import { parseCgroupMounts, runDirName } from './cgroups/formats.js'
import { createSandboxCgroup, removeStaleCgroups, type SandboxCgroup } from './cgroups/index.js'
import { writeHostsFile } from './hosts-file.js'
import { encodeBootstrapConfig, encodeInitConfig } from './init-config.js'
import { chainSpecOf, excludedPathsOf, keepPathsOf, planOf, sandboxSpecOf, type ChainSpec, type HostFacts, type LaunchRequest, type SandboxSpec } from './launch-spec.js'
import { gatherPlanInput } from './plan-input.js'
import { startReaper } from './reaper.js'
import { currentRunId, isRunAlive } from './run-id.js'
import { installExitHook, Sandbox, type SandboxResult } from './sandbox.js'
import { createSandboxScratch, removeSandboxScratch, runDirectory, type SandboxScratch } from './scratch.js'
import { launchRequestOf, type SpawnSandboxOptions } from './spawn-options.js'
import { launchTools } from './tools.js'

const bootstrapPath = fileURLToPath(new URL('../inside/bootstrap.cjs', import.meta.url))
const initPath = fileURLToPath(new URL('../inside/init.pl', import.meta.url))
let lastCapability: number | undefined

async function resolveRootfsDir (options: ResolvedOptions): Promise<string | undefined> {
  if (options.rootfs === 'host') return undefined
  const { resolveRootfs } = await import('../rootfs/index.js')
  return await resolveRootfs(options.rootfs, options.rootfsCacheDir === undefined ? {} : { cacheDir: options.rootfsCacheDir })
}

async function readHostFacts (request: LaunchRequest): Promise<HostFacts> {
  lastCapability ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim())
  return {
    tools: launchTools(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    arch: process.arch,
    lastCapability,
    koffiAddon: koffiAddonPath(),
    bootstrapPath,
    initPath,
    rootfsDir: await resolveRootfsDir(request.resolved),
    home: request.env.HOME ?? os.homedir()
  }
}

/** What `--dry-run` prints: everything a start would use, nothing started. */
export interface PreparedSandbox extends SandboxSpec {
  options: ResolvedOptions
  launch: Pick<ChainSpec, 'file' | 'args' | 'identityNote'>
}

interface PreparedRun {
  spec: SandboxSpec
  scratch: SandboxScratch
  cgroup: SandboxCgroup
}

/**
 * Scratch, the plan's host facts, the cgroup, then the pure spec. Synchronous on purpose:
 * spawnSandbox runs it between the spawn and the Sandbox that listens to the child, and
 * no event of the child may come in between. Fails having removed what it made (the
 * cgroup is created last and undoes itself).
 */
function prepareRun (request: LaunchRequest, facts: HostFacts, cgroupFor: (resolved: ResolvedOptions) => SandboxCgroup): PreparedRun {
  const { resolved } = request
  const scratch = createSandboxScratch(resolved.scratchDir)
  try {
    const planInput = gatherPlanInput(resolved, {
      rootDir: scratch.rootDir,
      layersDir: scratch.layersDir,
      rootfsDir: facts.rootfsDir,
      keep: keepPathsOf(request),
      exclude: excludedPathsOf(request, facts),
      hosts: writeHostsFile(scratch.dir, facts.rootfsDir, resolved.hostname)
    })
    const places = { rootDir: scratch.rootDir, layersDir: scratch.layersDir, freshDir: resolved.report ? path.join(scratch.dir, 'fresh') : undefined }
    // The plan first: a bad bind makes no cgroup.
    const plan = planOf(planInput, places)
    const cgroup = cgroupFor(resolved)
    return { spec: sandboxSpecOf(request, facts, plan, places, cgroup.procsFiles), scratch, cgroup }
  } catch (error) {
    try {
      removeSandboxScratch(scratch)
    } catch {
      // the exit hook and the next start remove what is left
    }
    if (error instanceof PlanError) throw new SandboxError('NSB_INVALID_OPTION', error.message)
    throw error
  }
}

function stdioOf (options: SpawnSandboxOptions, channel: boolean): StdioOptions {
  const base = options.stdio === undefined || typeof options.stdio === 'string'
    ? [options.stdio ?? 'inherit', options.stdio ?? 'inherit', options.stdio ?? 'inherit']
    : [...options.stdio]
  return [...base, ...(channel ? ['ipc'] : []), 'pipe'] as StdioOptions
}

let sandboxCount = 0
let identityNoted = false

function startRun (resolved: ResolvedOptions, facts: HostFacts): void {
  installExitHook(resolved.scratchDir)
  const cgroupRoots = (): string[] => parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')).map((mount) => mount.mountPoint)
  startReaper(facts.tools.sh, runDirectory(resolved.scratchDir), runDirName(facts.uid, currentRunId()), cgroupRoots)
}

function sandboxCgroupFor (resolved: ResolvedOptions, uid: number): SandboxCgroup {
  if (sandboxCount === 0) {
    try {
      removeStaleCgroups(isRunAlive)
    } catch {
      // best effort: a later start tries again
    }
  }
  // Where the sandbox could write a cgroup it mounts, it gets one of its own everywhere (cgroups/sandbox.ts).
  return createSandboxCgroup(currentRunId(), String(++sandboxCount), {
    memoryBytes: resolved.memoryBytes, pids: resolved.pids, cpus: resolved.cpus
  }, resolved.root || uid !== 0)
}

/**
 * Start a sandbox. Resolves once the launcher is spawned; `ready` and `result` tell the rest.
 * The launcher is spawned first and the rest prepared while it starts: its init reads the
 * configuration ~4 ms later (and rarely waits for it: 0.2 ms, median), on the status pipe,
 * which the host writes and (unless the sandbox is resettable) closes.
 */
export async function spawnSandbox (options: SpawnSandboxOptions): Promise<Sandbox> {
  const request = launchRequestOf(options)
  const facts = await readHostFacts(request)
  const chain = chainSpecOf(request, facts)
  startRun(request.resolved, facts)
  if (chain.identityNote !== undefined && !identityNoted) {
    identityNoted = true
    process.emitWarning(chain.identityNote, { code: 'NSB_IDENTITY_ROOT' })
  }
  const forwarder = request.resolved.forwards.length > 0 ? new HostForwarder(request.resolved.forwards) : undefined
  const child = spawn(chain.file, chain.args, {
    cwd: request.cwd,
    env: chain.env,
    stdio: stdioOf(options, chain.channel),
    serialization: options.serialization ?? 'json'
  })
  const statusPipe = (child.stdio as ChildProcess['stdio'] | null)?.[chain.statusFd] as Writable | null | undefined
  if (statusPipe == null) {
    // Node sets up no stdio when the spawn itself failed for want of fds (EMFILE, ENFILE).
    const [error] = await once(child, 'error') as [Error]
    void forwarder?.close()
    throw new SandboxError('NSB_SETUP_FAILED', `cannot start the launcher: ${error.message}`)
  }
  let prepared: PreparedRun
  try {
    prepared = prepareRun(request, facts, (resolved) => sandboxCgroupFor(resolved, facts.uid))
  } catch (error) {
    // Nothing ran yet: the init is still starting, or never will (spawn failed).
    child.on('error', () => {})
    statusPipe.destroy()
    child.kill('SIGKILL')
    void forwarder?.close()
    throw error
  }
  // A launcher that failed early has closed its end (EPIPE here); its exit tells why.
  statusPipe.on('error', () => {})
  const configuration = Buffer.concat([encodeInitConfig(prepared.spec.init), encodeBootstrapConfig(prepared.spec.config)])
  if (request.resettable) statusPipe.write(configuration)
  else statusPipe.end(configuration)
  return new Sandbox(child, request.resolved, prepared.scratch, prepared.cgroup, chain.statusFd,
    { report: prepared.spec.report, forwarder, ...(request.resettable ? { commands: statusPipe } : {}) })
}

/** The mount plan and launch a sandbox would use, without starting it (`--dry-run`). */
export async function planSandbox (options: SpawnSandboxOptions): Promise<PreparedSandbox> {
  const noCgroup: SandboxCgroup = {
    procsFiles: [], limits: {}, readUsage: () => ({ oomKills: 0, pidsLimitHits: 0 }), kill: () => {}, remove: async () => {}
  }
  const request = launchRequestOf(options)
  const facts = await readHostFacts(request)
  const { file, args, identityNote } = chainSpecOf(request, facts)
  const prepared = prepareRun(request, facts, () => noCgroup)
  removeSandboxScratch(prepared.scratch)
  return { options: request.resolved, ...prepared.spec, launch: { file, args, ...(identityNote === undefined ? {} : { identityNote }) } }
}

/** Run to completion: the convenience most callers want. */
export async function runSandbox (options: SpawnSandboxOptions): Promise<SandboxResult> {
  const sandbox = await spawnSandbox(options)
  return await sandbox.result
}
