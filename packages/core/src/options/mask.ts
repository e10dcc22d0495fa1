/**
 * Which paths the credential masks cover. `~` in a mask stands for every home the user
 * has: `$HOME` and the home passwd gives the uid. A sandbox started with `HOME=/`,
 * `HOME=/tmp` or no HOME still sees the account's real `~/.ssh`, which tools find
 * through passwd (ssh does) or which a test reads by path.
 */
import os from 'node:os'
import path from 'node:path'

/** Credential locations hidden from every sandbox unless `defaultMask: false`. */
export const DEFAULT_MASK: readonly string[] = [
  '~/.ssh', '~/.aws', '~/.config/gcloud', '~/.docker/config.json', '~/.kube', '~/.netrc', '~/.npmrc',
  '~/.gnupg', '~/.azure', '~/.git-credentials', '~/.config/gh'
]

let cachedAccountHome: string | undefined | null = null

/**
 * The uid's home from passwd (os.userInfo, not $HOME), or undefined when the uid has no
 * entry (`docker run -u 1234`). Looked up once: an NSS lookup costs ~0.7 ms.
 */
export function accountHome (): string | undefined {
  if (cachedAccountHome === null) {
    try {
      cachedAccountHome = os.userInfo().homedir
    } catch {
      cachedAccountHome = undefined
    }
  }
  return cachedAccountHome
}

/** The homes `~` stands for in masks, deduplicated. An empty, relative or `/` one is no home to mask. */
export function maskHomes (...homes: Array<string | undefined>): string[] {
  const usable = homes.filter((home): home is string => home !== undefined && path.isAbsolute(home))
    .map((home) => path.resolve(home))
    .filter((home) => home !== '/')
  return [...new Set(usable)]
}

/**
 * The masked host paths: the defaults (unless turned off) plus the caller's own, each
 * `~` path once per home.
 */
export function resolveMask (extra: readonly string[], withDefaults: boolean, homes: readonly string[]): string[] {
  const paths = [...(withDefaults ? DEFAULT_MASK : []), ...extra]
  const expanded = paths.flatMap((value) => {
    if (value === '~') return [...homes]
    if (value.startsWith('~/')) return homes.map((home) => path.join(home, value.slice(2)))
    return [path.resolve(value)]
  })
  return [...new Set(expanded)]
}
