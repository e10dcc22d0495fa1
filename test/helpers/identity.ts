/**
 * The two identities every end-to-end test runs as: root (CI runs as root) and an
 * unprivileged user the test run creates and switches to with setpriv.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export const TEST_USER = 'nsb-test'

export interface Identity {
  name: 'root' | typeof TEST_USER
  uid: number
  gid: number
  home: string
  /** Prefix for a command line: [] for root, setpriv ... for the test user. */
  wrap: (file: string, args: string[]) => { file: string, args: string[] }
  env: NodeJS.ProcessEnv
}

function idOf (flag: string, user: string): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim())
}

/** Create the unprivileged test user once (useradd), with a home directory. */
export function ensureTestUser (): Identity {
  if (process.getuid?.() !== 0) throw new Error('the end-to-end tests run as root: they create and switch to an unprivileged user')
  if (spawnSync('id', [TEST_USER]).status !== 0) {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', TEST_USER], { stdio: 'inherit' })
  }
  const uid = idOf('-u', TEST_USER)
  const gid = idOf('-g', TEST_USER)
  const home = `/home/${TEST_USER}`
  fs.mkdirSync(home, { recursive: true })
  fs.chownSync(home, uid, gid)
  return {
    name: TEST_USER,
    uid,
    gid,
    home,
    wrap: (file, args) => ({ file: setprivPath(), args: [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', file, ...args] }),
    env: { ...cleanEnv(), HOME: home, USER: TEST_USER, LOGNAME: TEST_USER }
  }
}

let setpriv: string | undefined

/** setpriv by its full path: a test may give the command it wraps a PATH without it. */
function setprivPath (): string {
  setpriv ??= execFileSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).trim()
  return setpriv
}

export function rootIdentity (): Identity {
  return { name: 'root', uid: 0, gid: 0, home: process.env.HOME ?? '/root', wrap: (file, args) => ({ file, args }), env: cleanEnv() }
}

function cleanEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const key of ['PATH', 'LANG', 'TERM', 'CI', 'TMPDIR']) if (process.env[key] !== undefined) env[key] = process.env[key]
  return env
}

/** Both identities, for `for (const who of identities())` test matrices. */
export function identities (): Identity[] {
  return [rootIdentity(), ensureTestUser()]
}

/**
 * The test user must be able to read this checkout (node, the built packages). Fail
 * loudly, naming the directory, instead of skipping.
 */
export function assertReadableByTestUser (identity: Identity, target: string): void {
  let dir = path.resolve(target)
  for (;;) {
    const stat = fs.statSync(dir)
    const other = stat.mode & 0o005
    if (identity.uid !== 0 && stat.uid !== identity.uid && (other & 0o001) === 0) {
      throw new Error(`${dir} is not searchable by ${identity.name} (mode ${(stat.mode & 0o777).toString(8)}): clone the repository under a world-readable directory to run the unprivileged tests`)
    }
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
}
