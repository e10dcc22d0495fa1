/**
 * Builds a sandbox's side-effect report on the host, after it ended and before its
 * scratch is removed: the overlay upper layers and fresh areas (files), the init's
 * listing (processes, sockets), the cgroup's figures (memory, limits).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { KillReason } from '../host/exit-status.js'
import type { ForwardSpec } from '../forward/spec.js'
import type { NetworkMode } from '../options/schema.js'
import { FRESH_AREAS, hostPathOfLayer, layerId, type MountStep } from '../plan/mount-plan.js'
import { areaClassifier } from './areas.js'
import { pathMatcher } from './glob.js'
import { parseInitDump } from './init-dump.js'
import { walkLayer, type Layer, type WalkRules } from './layer-walk.js'
import { planRules } from './plan-paths.js'
import { isOpaqueDirectory } from './xattr.js'
import type { FileChange, SideEffectReport } from './types.js'

export interface ReportContext {
  plan: readonly MountStep[]
  rootDir: string
  /** Overlay layers are `<layersDir>/upper/<layerId>`. */
  layersDir: string
  /** Fresh areas are `<freshDir>/<layerId>` (see PlanInput.freshDir). */
  freshDir: string
  /** Lower layer of the `rootfs` overlay, for a root filesystem from an archive. */
  rootfsDir?: string
  home: string
  project: string
  ignore: readonly string[]
  forwards: readonly ForwardSpec[]
  network: NetworkMode
}

export interface RunFacts {
  /** INIT_REPORT_MARK lines from the status pipe. */
  initLines: readonly string[]
  memoryPeakBytes?: number
  reason?: KillReason
}

async function layersOf (context: ReportContext): Promise<Layer[]> {
  const layers: Layer[] = []
  let ids: string[] = []
  try {
    ids = (await fs.readdir(path.join(context.layersDir, 'upper'))).sort()
  } catch {
    // readonly mode: no overlays
  }
  for (const id of ids) {
    const dir = path.join(context.layersDir, 'upper', id)
    if (id === 'rootfs') {
      if (context.rootfsDir !== undefined) layers.push({ dir, sandboxPath: '/', lowerDir: context.rootfsDir })
    } else {
      const hostPath = hostPathOfLayer(id)
      layers.push({ dir, sandboxPath: hostPath, lowerDir: hostPath })
    }
  }
  for (const area of FRESH_AREAS) layers.push({ dir: path.join(context.freshDir, layerId(area)), sandboxPath: area })
  return layers
}

async function fileChanges (context: ReportContext): Promise<FileChange[]> {
  const rules: WalkRules = { ...planRules(context.plan, context.rootDir), isOpaque: isOpaqueDirectory }
  const ignored = pathMatcher(context.ignore, context.project)
  const areaOf = areaClassifier({ home: context.home, project: context.project })
  const files: FileChange[] = []
  for (const layer of await layersOf(context)) {
    for (const change of await walkLayer(layer, rules)) {
      if (!ignored(change.path)) files.push({ ...change, area: areaOf(change.path) })
    }
  }
  return files.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
}

export async function collectReport (context: ReportContext, facts: RunFacts): Promise<SideEffectReport> {
  const notes: string[] = []
  const dump = parseInitDump(facts.initLines)
  if (!dump.complete) notes.push('processes and ports unknown: the sandbox was killed before its command ended')
  const forwarded = new Set(context.forwards.map((f) => `${f.host} ${f.port}`))
  let ports = dump.sockets.filter((s) => !(s.protocol === 'tcp' && forwarded.has(`${s.address} ${s.port}`)))
  if (context.network === 'host') {
    ports = []
    notes.push('ports not listed: with network \'host\' the sandbox shares the host\'s sockets')
  }
  return {
    files: await fileChanges(context),
    processes: dump.processes,
    ports,
    ...(facts.memoryPeakBytes === undefined ? {} : { memoryPeakBytes: facts.memoryPeakBytes }),
    ...(facts.reason === undefined ? {} : { limitHit: facts.reason }),
    notes
  }
}
