import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildLaunchCommand, chainEnvironment } from '../src/host/launch-command.js'
import { parseUnshareHelp, type LaunchTools } from '../src/host/tools.js'

const OLD_HELP = ` -U, --user[=<file>]       unshare user namespace
 -r, --map-root-user       map current user to root (implies --user)
 --kill-child[=<signame>]  when dying, kill the forked child (implies --fork)`
const NEW_HELP = `${OLD_HELP}
 --map-user=<uid>|<name>   map current user to uid (implies --user)
 --map-group=<gid>|<name>  map current group to gid (implies --user)
 --keep-caps               retain capabilities granted in user namespaces`
const CURRENT_HELP = `${NEW_HELP}
 -c, --map-current-user    map current user to itself (implies --user)`

function tools (help: string): LaunchTools {
  return { setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', sh: '/bin/sh', perl: '/usr/bin/perl', unshareVersion: 'unshare from util-linux 2.x', ...parseUnshareHelp(help) }
}

const spec = { uid: 1001, gid: 1002, root: false, network: 'loopback' as const, nodePath: '/usr/bin/node', execArgv: ['--no-warnings'], bootstrapPath: '/b.cjs', initPath: '/init.pl', statusFd: 3 }

describe('launch command', () => {
  it('reads unshare\'s abilities from its help text', () => {
    assert.deepEqual(parseUnshareHelp(OLD_HELP), { hasMapUser: false, hasMapCurrentUser: false, hasKeepCaps: false, hasKillChild: true })
    assert.deepEqual(parseUnshareHelp(NEW_HELP), { hasMapUser: true, hasMapCurrentUser: false, hasKeepCaps: true, hasKillChild: true })
    assert.deepEqual(parseUnshareHelp(CURRENT_HELP), { hasMapUser: true, hasMapCurrentUser: true, hasKeepCaps: true, hasKillChild: true })
  })

  it('keeps the caller\'s ids, dies with the runner and creates every namespace', () => {
    const { file, args, identityNote } = buildLaunchCommand(tools(NEW_HELP), spec)
    assert.equal(file, '/usr/bin/setpriv')
    assert.deepEqual(args.slice(0, 3), ['--pdeathsig', 'KILL', '--'])
    for (const flag of ['--user', '--map-user=1001', '--map-group=1002', '--keep-caps', '--mount', '--pid', '--fork', '--kill-child', '--uts', '--ipc', '--cgroup', '--net']) {
      assert.ok(args.includes(flag), flag)
    }
    assert.deepEqual(args.slice(-7), ['/usr/bin/perl', '-f', '/init.pl', '3', '/usr/bin/node', '--no-warnings', '/b.cjs'])
    assert.equal(identityNote, undefined)
  })

  it('maps the caller to itself without a user lookup where unshare can', () => {
    const { args } = buildLaunchCommand(tools(CURRENT_HELP), spec)
    assert.ok(args.includes('--map-current-user') && args.includes('--keep-caps'))
    assert.ok(!args.some((a) => a.startsWith('--map-user') || a.startsWith('--map-group')))
  })

  it('maps to root with --root, and shares the network only with network host', () => {
    for (const help of [NEW_HELP, CURRENT_HELP]) {
      const rooted = buildLaunchCommand(tools(help), { ...spec, root: true, network: 'host' })
      assert.ok(rooted.args.includes('--map-root-user') && rooted.args.includes('--keep-caps'))
      assert.ok(!rooted.args.some((a) => a.startsWith('--map-user') || a.startsWith('--map-group')))
      assert.ok(!rooted.args.includes('--net'))
    }
  })

  it('runs the chain with LC_ALL=C and no PERL* variables, and lists what PID 2 gives back', () => {
    assert.deepEqual(chainEnvironment({ PATH: '/bin' }), { env: { PATH: '/bin', LC_ALL: 'C' }, restore: [['LC_ALL', '-']] })
    assert.deepEqual(chainEnvironment({ PATH: '/bin', LC_ALL: '', PERL5OPT: '-w', PERLIO: ':crlf', PERSON: 'x' }), {
      env: { PATH: '/bin', LC_ALL: 'C', PERSON: 'x' },
      restore: [['LC_ALL', '='], ['PERL5OPT', '=-w'], ['PERLIO', '=:crlf']]
    })
  })

  it('falls back to --map-root-user on old util-linux and says so', () => {
    const { args, identityNote } = buildLaunchCommand(tools(OLD_HELP), spec)
    assert.ok(args.includes('--map-root-user'))
    assert.ok(!args.some((a) => a.startsWith('--map-user')))
    assert.match(identityNote ?? '', /lacks --map-user\/--keep-caps: sandboxes run as uid 0 inside/)
  })
})
