/**
 * cgroup v1 as an unprivileged user (run as root; the user runs through setpriv): without delegation
 * a memory limit is NSB_CGROUP_NOT_DELEGATED with the fix; with a parent root created and handed over
 * (NS_SANDBOX_CGROUP_PARENT) it works, including the user's own process joining.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { hierarchyFor, readCgroupHost } from '../src/host/cgroups/detect.js'
import { removeCgroupTree } from '../src/host/cgroups/stale.js'
import { subdirectories } from '../src/host/cgroups/io.js'
import { needsMachine } from '../../../test/helpers/machine.js'
import { cgroupTestRuns } from './helpers/cgroup-runs.js'

const USER = 'nsb-cgtest'
const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '')
const INDEX = `${REPO}/packages/core/src/host/cgroups/index.ts`
const { prefix: RUN_PREFIX } = cgroupTestRuns('unpriv')

function skipReason (): string | false {
  if (process.getuid?.() !== 0) return 'needs root (to act as an unprivileged user)'
  if (hierarchyFor(readCgroupHost(), 'memory')?.version !== 1) return 'no cgroup v1 memory hierarchy on this host'
  for (const tool of ['setpriv', 'useradd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`
  }
  return false
}
const skip = needsMachine(skipReason())

function ensureUser (): { uid: number, gid: number } {
  const id = (flag: string): number | undefined => {
    const result = spawnSync('id', [flag, USER], { encoding: 'utf8' })
    return result.status === 0 ? Number(result.stdout.trim()) : undefined
  }
  if (id('-u') === undefined) {
    const created = spawnSync('useradd', ['--system', '--no-create-home', USER], { encoding: 'utf8' })
    assert.equal(created.status, 0, `useradd ${USER} failed: ${created.stderr}`)
  }
  return { uid: id('-u')!, gid: id('-g')! }
}

function asUser (user: { uid: number, gid: number }, args: string[], env: Record<string, string> = {}): ReturnType<typeof spawnSync> {
  return spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/', TMPDIR: '/tmp', ...env }
  })
}

/** Fails (never skips) when the user cannot reach the code it must run. */
function assertReadable (user: { uid: number, gid: number }): void {
  const paths = [process.execPath, INDEX, `${REPO}/node_modules/tsx/package.json`, `${REPO}/packages/core/src/errors.ts`]
  const check = asUser(user, ['sh', '-c', 'for p; do test -r "$p" || echo "$p"; done', 'sh', ...paths])
  const unreadable = String(check.stdout).trim()
  assert.ok(check.status === 0 && unreadable === '',
    `user ${USER} (uid ${user.uid}) cannot read ${unreadable || 'the repository'} (${String(check.stderr).trim()}). ` +
    `This test runs ns-sandbox code as that user: make the checkout world-readable (chmod -R o+rX ${REPO} and its parent directories).`)
}

/** Runs createSandboxCgroup with a 32 MiB memory limit as the user; joins, removes; prints JSON. */
const SCRIPT = `
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
const out = { uid: process.getuid() }
try {
  const { createSandboxCgroup } = await import(process.env.NSB_CG_INDEX)
  try {
    const cg = createSandboxCgroup(process.env.NSB_CG_RUN, 'u', { memoryBytes: 33554432 })
    out.ok = true
    out.procsFiles = cg.procsFiles
    out.limit = readFileSync(cg.procsFiles[0].replace(/leaf\\/cgroup\\.procs$/, 'memory.limit_in_bytes'), 'utf8').trim()
    const joined = spawnSync('sh', ['-c', 'for f; do echo 0 > "$f" || exit 97; done; cat /proc/self/cgroup', 'sh', ...cg.procsFiles], { encoding: 'utf8' })
    out.joinStatus = joined.status
    out.joinStderr = joined.stderr
    out.childCgroup = joined.stdout
    await cg.remove()
  } catch (error) {
    out.ok = false
    out.code = error.code
    out.text = typeof error.describe === 'function' ? error.describe() : String(error && error.stack)
  }
} catch (error) {
  out.loadError = String(error && error.stack)
}
process.stdout.write(JSON.stringify(out))
`

function runScript (user: { uid: number, gid: number }, runId: string, env: Record<string, string> = {}): Record<string, unknown> {
  const result = asUser(user, [process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT], { NSB_CG_INDEX: INDEX, NSB_CG_RUN: runId, ...env })
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(String(result.stdout)) as Record<string, unknown>
  } catch {
    throw new Error(`the script run as ${USER} printed no result (status ${result.status}, signal ${result.signal}): ${String(result.stdout)}\n${String(result.stderr)}`)
  }
  assert.equal(parsed.loadError, undefined, `as ${USER}, loading ${INDEX} failed: ${String(parsed.loadError)}`)
  assert.equal(parsed.uid, user.uid)
  return parsed
}


describe('cgroup v1 as an unprivileged user', { skip }, () => {
  test('not delegated: NSB_CGROUP_NOT_DELEGATED with the fix; delegated parent: works', (t) => {
    const user = ensureUser()
    assertReadable(user)

    const refused = runScript(user, `${RUN_PREFIX}-1`)
    assert.equal(refused.ok, false, JSON.stringify(refused))
    assert.equal(refused.code, 'NSB_CGROUP_NOT_DELEGATED', String(refused.text))
    const text = String(refused.text)
    assert.match(text, new RegExp(`not writable by uid ${user.uid}`))
    assert.match(text, /sudo mkdir -p \/sys\/fs\/cgroup\/memory\/ns-sandbox && sudo chown -R \$USER \/sys\/fs\/cgroup\/memory\/ns-sandbox`/)
    assert.match(text, /NS_SANDBOX_CGROUP_PARENT=\/ns-sandbox/)

    const memoryRoot = hierarchyFor(readCgroupHost(), 'memory')!.mountPoint
    const name = `ns-sandbox-test-deleg-${process.pid}`
    const delegated = `${memoryRoot}/${name}`
    mkdirSync(delegated)
    t.after(() => { removeCgroupTree(delegated) })
    for (const path of [delegated, ...readdirSync(delegated).map((file) => `${delegated}/${file}`)]) chownSync(path, user.uid, user.gid)

    const runId = `${RUN_PREFIX}-2`
    const accepted = runScript(user, runId, { NS_SANDBOX_CGROUP_PARENT: `/${name}` })
    assert.equal(accepted.ok, true, String(accepted.text))
    assert.deepEqual(accepted.procsFiles, [`${delegated}/ns-sandbox-${user.uid}-run-${runId}/sb-u/leaf/cgroup.procs`])
    assert.equal(accepted.limit, String(32 * 1024 * 1024))
    assert.equal(accepted.joinStatus, 0, `the user's process could not join: ${String(accepted.joinStderr)}`)
    assert.match(String(accepted.childCgroup), new RegExp(`:memory:/${name}/ns-sandbox-${user.uid}-run-${runId}/sb-u/leaf$`, 'm'))
    assert.deepEqual(subdirectories(delegated), [], 'remove() as the user left nothing behind')
    removeCgroupTree(delegated)
    assert.equal(existsSync(delegated), false)
  })
})
