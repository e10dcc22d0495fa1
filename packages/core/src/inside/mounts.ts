/** The mount plan's executor: a short loop, one libc call or two per step. */
import { constants } from 'node:fs'
import { dirname } from 'node:path'
import { SandboxError } from '../errors.js'
import { MS, SyscallError, chmod, createEmptyFile, fileMode, isWritable, makeDirectory, makeReadOnlyRecursive, mount, symlink } from '../ffi/libc.js'
import type { MountStep } from '../plan/mount-plan.js'

/** overlayfs options separate layers with ':' and options with ','. */
function escapeOverlayPath (value: string): string {
  return value.replace(/[\\,:]/g, (c) => '\\' + c)
}

/** `mkdir -p`: the plan creates parents first, so this is one call per directory. */
function makeDirectories (dir: string): void {
  let outcome = makeDirectory(dir, 0o777)
  if (outcome === 'no-parent' && dirname(dir) !== dir) {
    makeDirectories(dirname(dir))
    outcome = makeDirectory(dir, 0o777)
  }
  if (outcome === 'no-parent') throw new Error(`cannot create ${dir}: its parent is missing`)
  if (outcome === 'exists' && (fileMode(dir) & constants.S_IFMT) !== constants.S_IFDIR) {
    throw new Error(`${dir} exists and is not a directory`)
  }
}

/** An empty file to bind onto; an existing file (or directory) is left as it is. */
function createFile (file: string): void {
  if (createEmptyFile(file, 0o644) === 'no-parent') {
    // Only then: the plan usually created the parent already.
    makeDirectories(dirname(file))
    createEmptyFile(file, 0o644)
  }
}

/**
 * An overlay's top directory takes owner and mode from its upper layer, which the caller
 * owns. So that /etc or /usr are not writable inside when they are not on the host, the
 * upper directory gets the lower's mode, without write bits when the caller cannot
 * write the lower one (checked while the bootstrap still holds the namespace's
 * capabilities, which never apply to host inodes owned by unmapped users).
 */
function matchLowerPermissions (lower: string, upper: string): void {
  let mode = fileMode(lower) & 0o7777
  if (!isWritable(lower)) mode &= ~0o222
  chmod(upper, mode)
}

function executeStep (step: MountStep): void {
  switch (step.op) {
    case 'mkdir':
      makeDirectories(step.path)
      if (step.mode !== undefined) chmod(step.path, parseInt(step.mode, 8))
      return
    case 'file':
      createFile(step.path)
      return
    case 'symlink':
      symlink(step.linkTarget, step.path)
      return
    case 'tmpfs':
      mount('tmpfs', step.target, 'tmpfs', MS.NOSUID | MS.NODEV | (step.readonly === true ? MS.RDONLY | MS.NOEXEC : 0), `mode=${step.mode}`)
      return
    case 'overlay':
      makeDirectories(step.upper)
      matchLowerPermissions(step.lower, step.upper)
      makeDirectories(step.work)
      mount('overlay', step.target, 'overlay', 0,
        `lowerdir=${escapeOverlayPath(step.lower)},upperdir=${escapeOverlayPath(step.upper)},workdir=${escapeOverlayPath(step.work)},userxattr`)
      return
    case 'bind':
      mount(step.source, step.target, null, MS.BIND | MS.REC, null)
      if (step.readonly) makeReadOnlyRecursive(step.target)
      return
    case 'proc':
      mount('proc', step.target, 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null)
      return
    case 'devpts':
      mount('devpts', step.target, 'devpts', MS.NOSUID | MS.NOEXEC, 'newinstance,ptmxmode=0666,mode=620')
      return
    case 'sysfs':
      if (step.fresh) {
        mount('sysfs', step.target, 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null)
      } else {
        mount('/sys', step.target, null, MS.BIND | MS.REC, null)
        makeReadOnlyRecursive(step.target)
      }
  }
}

function hintFor (step: MountStep, error: unknown): string[] {
  if (!(error instanceof SyscallError)) return []
  if (step.op === 'overlay' && error.errnoName === 'EINVAL') {
    return ['overlayfs in a user namespace needs Linux >= 5.11 and a lower directory without locked submounts; `ns-sandbox doctor` checks this.',
      'Workaround: `readonly: true` (read-only host view) needs no overlayfs.']
  }
  if (step.op === 'proc') {
    return ['a new /proc cannot be mounted when the host /proc has parts masked (as inside Docker without --privileged); `ns-sandbox doctor` checks this.']
  }
  return []
}

export function executeMountPlan (plan: readonly MountStep[]): void {
  for (const step of plan) {
    try {
      executeStep(step)
    } catch (error) {
      const what = step.op === 'overlay' ? `overlay of ${step.lower}` : `${step.op} ${'target' in step ? step.target : step.path}`
      throw new SandboxError('NSB_MOUNT_FAILED', `mount plan step failed: ${what}: ${(error as Error).message}`,
        { cause: error, details: hintFor(step, error) })
    }
  }
}
