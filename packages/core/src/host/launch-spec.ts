/**
 * A sandbox's whole launch, from its validated request and the host's facts: the launch
 * chain's argv and environment, the mount plan, the init's and the bootstrap's
 * configuration, the side-effect report's context. Pure: no I/O (host/spawn.ts reads
 * the facts, creates scratch and cgroup, spawns); `ns-sandbox run --dry-run` prints it
 * and the unit tests assert it.
 *
 * Two steps, because the launcher is spawned before the rest is prepared (it starts
 * while the host works: host/spawn.ts): the chain first, the sandbox's contents after.
 */
import { buildMountPlan, type MountStep, type PlanInput } from '../plan/mount-plan.js'
import type { ResolvedOptions } from '../options/schema.js'
import type { BootstrapConfig, Handover, InitConfig } from '../protocol.js'
import type { ReportContext } from '../report/collect.js'
import { buildLaunchCommand, chainEnvironment } from './launch-command.js'
import type { LaunchTools } from './tools.js'

/** What was asked for, validated (host/spawn-options.ts, launchRequestOf). */
export interface LaunchRequest {
  resolved: ResolvedOptions
  handover: Handover
  cwd: string
  nodePath: string
  execArgv: readonly string[]
  /** The caller's IPC channel (`ipc: true`). */
  ipc: boolean
  resettable: boolean
  /** Extra host paths to bring back (`keep`). */
  keep: readonly string[]
  /** The command's environment. */
  env: NodeJS.ProcessEnv
}

/** What the host is, read before (host/spawn.ts, readHostFacts). */
export interface HostFacts {
  tools: LaunchTools
  uid: number
  gid: number
  arch: string
  lastCapability: number
  /** koffi's prebuilt addon (resolved so a broken install fails before anything runs). */
  koffiAddon: string
  bootstrapPath: string
  initPath: string
  /** The unpacked root filesystem, when `rootfs` is not the host. */
  rootfsDir: string | undefined
  /** $HOME for the report's areas. */
  home: string
}

export interface ChainSpec {
  file: string
  args: string[]
  /** Set when util-linux cannot keep the caller's uid (said once per process). */
  identityNote?: string
  env: NodeJS.ProcessEnv
  /** The status pipe's fd: after stdin, stdout, stderr and the IPC channel, if any. */
  statusFd: number
  /** An IPC channel: the caller's, or for forwards (it carries their listening sockets out). */
  channel: boolean
}

/** Where the sandbox's scratch is (host/scratch.ts). */
export interface SandboxPlaces {
  rootDir: string
  layersDir: string
  /** With a report: the fresh areas' directories, read after the end. */
  freshDir: string | undefined
}

export interface SandboxSpec {
  plan: MountStep[]
  init: InitConfig
  config: BootstrapConfig
  report: ReportContext | undefined
}

/** An IPC channel when the caller asks for one, and for forwards: it carries their listening sockets out. */
function hasChannel (request: LaunchRequest): boolean {
  return request.ipc || request.resolved.forwards.length > 0
}

const statusFdOf = (request: LaunchRequest): number => hasChannel(request) ? 4 : 3

export function chainSpecOf (request: LaunchRequest, facts: HostFacts): ChainSpec {
  const channel = hasChannel(request)
  const statusFd = statusFdOf(request)
  const command = buildLaunchCommand(facts.tools, {
    uid: facts.uid,
    gid: facts.gid,
    root: request.resolved.root,
    network: request.resolved.network,
    nodePath: request.nodePath,
    execArgv: request.execArgv,
    bootstrapPath: facts.bootstrapPath,
    initPath: facts.initPath,
    statusFd
  })
  return { ...command, env: chainEnvironment(request.env).env, statusFd, channel }
}

/**
 * What the process needs to see even where a fresh tmpfs or a root filesystem hides the
 * host: its cwd, for a Node entry the entry and the Node binary (child processes), and
 * `keep`. A command is looked up in the sandbox's own filesystem.
 */
export function keepPathsOf (request: LaunchRequest): string[] {
  const { handover } = request
  return [request.cwd, ...(handover.kind === 'node' ? [handover.entry, request.nodePath] : []), ...request.keep]
}

/** Host paths never to overlay: they hold the layers themselves, or the root filesystem. */
export function excludedPathsOf (request: LaunchRequest, facts: HostFacts): string[] {
  return [request.resolved.scratchDir, ...(facts.rootfsDir === undefined ? [] : [facts.rootfsDir])]
}

/** `planInput`: the host's facts for the plan (host/plan-input.ts), gathered with keepPathsOf and excludedPathsOf. Throws PlanError. */
export function planOf (planInput: PlanInput, places: SandboxPlaces): MountStep[] {
  return buildMountPlan({ ...planInput, freshDir: places.freshDir })
}

export function sandboxSpecOf (request: LaunchRequest, facts: HostFacts, plan: MountStep[], places: SandboxPlaces, cgroupProcs: readonly string[]): SandboxSpec {
  const { resolved } = request
  const init: InitConfig = {
    arch: facts.arch,
    plan,
    rootDir: places.rootDir,
    hostname: resolved.hostname,
    network: resolved.network,
    keepCapabilities: resolved.root,
    lastCapability: facts.lastCapability,
    cgroupProcs: [...cgroupProcs],
    report: resolved.report,
    resettable: request.resettable,
    layersDir: places.layersDir,
    restoreEnv: chainEnvironment(request.env).restore
  }
  const config: BootstrapConfig = {
    statusFd: statusFdOf(request),
    koffiAddon: facts.koffiAddon,
    cwd: request.cwd,
    handover: request.handover,
    ...(resolved.forwards.length === 0 ? {} : { forwards: resolved.forwards, keepChannel: request.ipc })
  }
  const report: ReportContext | undefined = places.freshDir === undefined
    ? undefined
    : {
        plan,
        rootDir: places.rootDir,
        layersDir: places.layersDir,
        freshDir: places.freshDir,
        rootfsDir: facts.rootfsDir,
        home: facts.home,
        project: request.cwd,
        ignore: resolved.reportIgnore,
        forwards: resolved.forwards,
        network: resolved.network
      }
  return { plan, init, config, report }
}
