/**
 * The sandbox's /etc/hosts, as Docker writes one: the entries the sandbox would see
 * anyway (the host's, or the root filesystem's) plus its own hostname on 127.0.0.1, so
 * `getent hosts $(hostname)` and Node's `dns.lookup(os.hostname())` answer. Written in
 * the sandbox's scratch directory and bound over /etc/hosts by the mount plan: a
 * writable copy, gone with the sandbox; the host's file is never touched.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { PlanInput } from '../plan/mount-plan.js'

/** For a root filesystem without an /etc/hosts (Docker's defaults). */
const DEFAULT_ENTRIES = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'

/**
 * The hostname goes first (the first matching line answers) and on 127.0.0.1 only: ::1
 * does not exist where IPv6 is disabled, and a client trying it first would fail.
 */
export function hostsFileContent (baseEntries: string | undefined, hostname: string): string {
  const base = baseEntries ?? DEFAULT_ENTRIES
  return `# ns-sandbox: this sandbox's hostname, then the entries it would see without it\n127.0.0.1\t${hostname}\n` +
    base + (base === '' || base.endsWith('\n') ? '' : '\n')
}

/** What /etc/hosts is in the tree the sandbox sees, never following a symlink (a root filesystem's could point at the host's). */
function existingKind (file: string): 'file' | 'missing' | 'other' {
  try {
    return fs.lstatSync(file).isFile() ? 'file' : 'other'
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'other'
  }
}

/**
 * Write `<dir>/hosts` for a sandbox whose root is the host (`rootfsDir` undefined) or a
 * root filesystem. Undefined when there is nothing to bind over (a symlink, or entries
 * that cannot be read and so could not be kept): the sandbox keeps its /etc/hosts as is.
 */
export function writeHostsFile (dir: string, rootfsDir: string | undefined, hostname: string): PlanInput['hosts'] {
  const existing = existingKind(path.join(rootfsDir ?? '/', 'etc/hosts'))
  if (existing === 'other') return undefined
  let baseEntries: string | undefined
  if (existing === 'file') {
    try {
      baseEntries = fs.readFileSync(path.join(rootfsDir ?? '/', 'etc/hosts'), 'utf8')
    } catch {
      return undefined
    }
  }
  const file = path.join(dir, 'hosts')
  fs.writeFileSync(file, hostsFileContent(baseEntries, hostname), { mode: 0o644 })
  return { file, existing }
}
