/**
 * The native programs the launch chain stands on (util-linux `setpriv` and `unshare`,
 * perl for the init, `/bin/sh` for the reaper), found once per process. unshare's flags are probed from
 * its --help text, never guessed from its version.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { SandboxError } from '../errors.js'

export interface LaunchTools {
  setpriv: string
  unshare: string
  sh: string
  perl: string
  unshareVersion: string
  /** --map-user/--map-group (util-linux >= 2.38). */
  hasMapUser: boolean
  /** --map-current-user (util-linux >= 2.38): the same mapping as --map-user=<uid> --map-group=<gid>, without a user lookup. */
  hasMapCurrentUser: boolean
  /** --keep-caps (util-linux >= 2.38). */
  hasKeepCaps: boolean
  hasKillChild: boolean
}

export const PERL_HINT = 'Install perl (Debian/Ubuntu: perl-base, always installed; Fedora: dnf install perl-interpreter; Alpine: apk add perl).'
const INSTALL_HINT = 'Install util-linux (Debian/Ubuntu: apt-get install util-linux; Fedora: dnf install util-linux; Alpine: apk add util-linux setpriv).'

export function findExecutable (name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(':')) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // keep looking
    }
  }
  return undefined
}

/** What unshare's help says it can do. Pure, for tests of old util-linux texts. */
export function parseUnshareHelp (help: string): Pick<LaunchTools, 'hasMapUser' | 'hasMapCurrentUser' | 'hasKeepCaps' | 'hasKillChild'> {
  return {
    hasMapUser: help.includes('--map-user') && help.includes('--map-group'),
    hasMapCurrentUser: help.includes('--map-current-user'),
    hasKeepCaps: help.includes('--keep-caps'),
    hasKillChild: help.includes('--kill-child')
  }
}

export function probeTools (): { tools?: LaunchTools, missing: string[] } {
  const setpriv = findExecutable('setpriv')
  const unshare = findExecutable('unshare')
  const sh = fs.existsSync('/bin/sh') ? '/bin/sh' : findExecutable('sh')
  const missing = [setpriv === undefined ? 'setpriv' : '', unshare === undefined ? 'unshare' : '', sh === undefined ? 'sh' : ''].filter(Boolean)
  const perl = findExecutable('perl')
  if (setpriv === undefined || unshare === undefined || sh === undefined) return { missing }
  if (perl === undefined) return { missing: ['perl'] }
  const help = spawnSync(unshare, ['--help'], { encoding: 'utf8' })
  const version = spawnSync(unshare, ['--version'], { encoding: 'utf8' })
  return {
    tools: {
      setpriv,
      unshare,
      sh,
      perl,
      unshareVersion: (version.stdout ?? '').trim(),
      ...parseUnshareHelp(help.stdout ?? '')
    },
    missing
  }
}

let cached: LaunchTools | undefined

/** The tools, or NSB_UTIL_LINUX_MISSING / NSB_UTIL_LINUX_TOO_OLD naming what to install. */
export function launchTools (): LaunchTools {
  if (cached !== undefined) return cached
  const { tools, missing } = probeTools()
  if (tools === undefined && missing.includes('perl')) {
    throw new SandboxError('NSB_PERL_MISSING', 'cannot start sandboxes: perl (the init of every sandbox) not found in PATH', { details: [PERL_HINT] })
  }
  if (tools === undefined) {
    throw new SandboxError('NSB_UTIL_LINUX_MISSING', `cannot start sandboxes: ${missing.join(', ')} not found in PATH`, { details: [INSTALL_HINT] })
  }
  if (!tools.hasKillChild) {
    throw new SandboxError('NSB_UTIL_LINUX_TOO_OLD',
      `${tools.unshareVersion || 'unshare'} lacks --kill-child, without which a sandbox could outlive its runner`,
      { details: ['util-linux >= 2.32 is needed; 2.38 or newer keeps your uid inside (--map-user, --keep-caps).', INSTALL_HINT] })
  }
  cached = tools
  return tools
}
