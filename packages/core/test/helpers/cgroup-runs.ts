/**
 * A cgroup test file's runs: run ids under a prefix of its own, the processes it started,
 * and a hook after the file that kills those, removes whatever a failed test left behind
 * and asserts that no cgroup of the file's runs remains.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { after } from 'node:test'
import { findNsSandboxCgroups, removeCgroupTree } from '../../src/host/cgroups/stale.js'

export interface CgroupRuns {
  prefix: string
  children: ChildProcess[]
  newRunId: () => string
}

export function cgroupTestRuns (label: string): CgroupRuns {
  const prefix = `${process.pid}-${label}`
  const children: ChildProcess[] = []
  let counter = 0
  const ours = (runId: string): boolean => runId.startsWith(prefix)
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const dir of findNsSandboxCgroups(ours).runs) removeCgroupTree(dir)
    assert.deepEqual(findNsSandboxCgroups(ours).runs, [])
  })
  return { prefix, children, newRunId: () => `${prefix}${++counter}` }
}
