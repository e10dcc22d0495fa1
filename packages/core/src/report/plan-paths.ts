/**
 * What the mount plan itself put into the layers: mount points (a directory or file made
 * to mount on, possibly inside an overlay or a fresh area) and the directories above them.
 * The report leaves those out; they are the sandbox's scaffolding, not the test's doing.
 */
import path from 'node:path'
import type { MountStep } from '../plan/mount-plan.js'
import type { WalkRules } from './layer-walk.js'

export function planRules (plan: readonly MountStep[], rootDir: string): Pick<WalkRules, 'isMountPoint' | 'isPlanned'> {
  const inSandbox = (hostPath: string): string | undefined =>
    hostPath.startsWith(rootDir + '/') ? hostPath.slice(rootDir.length) : undefined
  const mountPoints = new Set<string>()
  const planned = new Set<string>()
  const addWithParents = (target: string): void => {
    for (let current = target; current !== '/' && !planned.has(current); current = path.posix.dirname(current)) planned.add(current)
  }
  for (const step of plan) {
    const target = inSandbox('target' in step ? step.target : step.path)
    if (target === undefined) continue
    if ('target' in step) mountPoints.add(target)
    addWithParents(target)
  }
  return { isMountPoint: (p) => mountPoints.has(p), isPlanned: (p) => planned.has(p) }
}
