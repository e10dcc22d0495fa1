/** The whole launch of a sandbox from its request and the host's facts: pure, no privileges. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chainSpecOf, excludedPathsOf, keepPathsOf, planOf, sandboxSpecOf, type HostFacts, type LaunchRequest } from '../src/host/launch-spec.js'
import { resolveOptions, type SandboxOptions } from '../src/options/schema.js'
import type { PlanInput } from '../src/plan/mount-plan.js'

const facts: HostFacts = {
  tools: { setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', sh: '/bin/sh', perl: '/usr/bin/perl', unshareVersion: 'x', hasMapUser: true, hasMapCurrentUser: true, hasKeepCaps: true, hasKillChild: true },
  uid: 1001,
  gid: 1002,
  arch: 'x64',
  lastCapability: 40,
  koffiAddon: '/k/koffi.node',
  bootstrapPath: '/core/dist/inside/bootstrap.cjs',
  initPath: '/core/dist/inside/init.pl',
  rootfsDir: undefined,
  home: '/home/me'
}

function request (options: SandboxOptions, extra: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    resolved: resolveOptions({ scratchDir: '/scratch', ...options }, '/home/me', '/home/me'),
    handover: { kind: 'node', entry: '/app/worker.js', args: [] },
    cwd: '/app',
    nodePath: '/usr/bin/node',
    execArgv: [],
    ipc: false,
    resettable: false,
    keep: [],
    env: { PATH: '/usr/bin', PERL5OPT: '-w' },
    ...extra
  }
}

const places = { rootDir: '/scratch/1/root', layersDir: '/scratch/1/layers', freshDir: undefined }
const planInput: PlanInput = {
  rootDir: places.rootDir, layersDir: places.layersDir, readonly: false, tmpfsSizeBytes: 1 << 30, mounts: [],
  listings: { '/': [{ name: 'usr', kind: 'dir' }, { name: 'tmp', kind: 'dir' }] }, pathKinds: {},
  binds: [], writable: [], mask: [], keep: [], exclude: [], devices: [], ownNetwork: true
}

describe('launch spec', () => {
  it('launches the chain with the status fd after the IPC channel, without PERL* variables', () => {
    const plain = chainSpecOf(request({}), facts)
    assert.equal(plain.file, '/usr/bin/setpriv')
    assert.deepEqual([plain.statusFd, plain.channel], [3, false])
    assert.deepEqual(plain.args.slice(-7), ['--', '/usr/bin/perl', '-f', '/core/dist/inside/init.pl', '3', '/usr/bin/node', '/core/dist/inside/bootstrap.cjs'])
    assert.equal(plain.env.PERL5OPT, undefined)
    assert.equal(plain.env.LC_ALL, 'C')
    const withChannel = chainSpecOf(request({ forward: [5432] }), facts)
    assert.deepEqual([withChannel.statusFd, withChannel.channel], [4, true])
  })

  it('keeps the cwd, the entry and the node binary visible, and never overlays the scratch', () => {
    assert.deepEqual(keepPathsOf(request({}, { keep: ['/opt/modules'] })), ['/app', '/app/worker.js', '/usr/bin/node', '/opt/modules'])
    assert.deepEqual(keepPathsOf(request({}, { handover: { kind: 'exec', command: 'sh', args: [] } })), ['/app'])
    assert.deepEqual(excludedPathsOf(request({}), { ...facts, rootfsDir: '/cache/rootfs/x' }), ['/scratch', '/cache/rootfs/x'])
  })

  it('gives the init its plan, cgroups and identity, and the bootstrap its handover', () => {
    const req = request({ hostname: 'box', root: true, forward: [5432] }, { ipc: true })
    const plan = planOf(planInput, places)
    const spec = sandboxSpecOf(req, facts, plan, places, ['/sys/fs/cgroup/pids/r/sb-1/leaf/cgroup.procs'])
    assert.equal(spec.init.plan, plan)
    assert.deepEqual({ ...spec.init, plan: [] }, {
      arch: 'x64', plan: [], rootDir: '/scratch/1/root', hostname: 'box', network: 'loopback', keepCapabilities: true,
      lastCapability: 40, cgroupProcs: ['/sys/fs/cgroup/pids/r/sb-1/leaf/cgroup.procs'], report: false, resettable: false,
      layersDir: '/scratch/1/layers', restoreEnv: [['LC_ALL', '-'], ['PERL5OPT', '=-w']]
    })
    assert.deepEqual(spec.config, {
      statusFd: 4, koffiAddon: '/k/koffi.node', cwd: '/app', handover: { kind: 'node', entry: '/app/worker.js', args: [] },
      forwards: [{ host: '127.0.0.1', port: 5432 }], keepChannel: true
    })
    assert.equal(spec.report, undefined)
  })

  it('has a report context only when the fresh areas are kept for it', () => {
    const withReport = { ...places, freshDir: '/scratch/1/fresh' }
    const spec = sandboxSpecOf(request({ report: true, reportIgnore: ['*.log'] }), facts, planOf(planInput, withReport), withReport, [])
    assert.deepEqual({ ...spec.report, plan: [] }, {
      plan: [], rootDir: '/scratch/1/root', layersDir: '/scratch/1/layers', freshDir: '/scratch/1/fresh', rootfsDir: undefined,
      home: '/home/me', project: '/app', ignore: ['*.log'], forwards: [], network: 'loopback'
    })
    assert.ok(spec.report?.plan.some((step) => step.op === 'bind' && step.source.startsWith('/scratch/1/fresh/')))
  })
})
