/** Containment of the filesystem, for root and for an unprivileged user. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { assertReadableByTestUser, identities } from '../../../test/helpers/identity.js'
import { CORE_DIR, sandboxSh, snapshotTree, tempDirFor } from './helpers/cli.js'

for (const who of identities()) {
  describe(`filesystem as ${who.name}`, () => {
    assertReadableByTestUser(who, CORE_DIR)

    it('keeps writes to /etc, $HOME, the project and /tmp inside the sandbox', () => {
      const marker = `nsb-marker-${process.pid}-${who.name}`
      const project = tempDirFor(who, 'nsb-project-')
      const targets = { etc: `/etc/${marker}`, home: path.join(who.home, marker), project: path.join(project.dir, marker), tmp: `/tmp/${marker}` }
      try {
        const script = Object.entries(targets).map(([name, file]) =>
          `if echo inside > ${file} 2>/dev/null && [ "$(cat ${file})" = inside ]; then echo ${name}=written; else echo ${name}=refused; fi`).join('; ')
        const run = sandboxSh(who, [], script, { cwd: project.dir })
        assert.equal(run.status, 0, run.stderr)
        // Inside, the writes behave as they would on the host for this user...
        assert.match(run.stdout, /home=written/)
        assert.match(run.stdout, /project=written/)
        assert.match(run.stdout, /tmp=written/)
        // Root writes /etc copy-on-write; an unprivileged user is refused, as on the host.
        assert.match(run.stdout, who.uid === 0 ? /etc=written/ : /etc=refused/)
        // ...and none of them reached the host.
        for (const file of Object.values(targets)) assert.equal(fs.existsSync(file), false, `${file} leaked to the host`)
      } finally {
        project.remove()
      }
    })

    it('leaves a watched tree byte-identical after deletes, renames, chmods and writes inside', () => {
      const watched = tempDirFor(who, 'nsb-watched-')
      try {
        fs.mkdirSync(path.join(watched.dir, 'sub'))
        for (const name of ['delete-me', 'rename-me', 'chmod-me', 'append-me', 'sub/nested']) fs.writeFileSync(path.join(watched.dir, name), `content of ${name}\n`)
        fs.symlinkSync('append-me', path.join(watched.dir, 'link'))
        spawnChown(watched.dir, who.uid, who.gid)
        const before = snapshotTree(watched.dir)
        const script = [
          'rm delete-me', 'mv rename-me renamed', 'chmod 600 chmod-me', 'echo more >> append-me', 'rm -r sub', 'echo new > created',
          'ls -1 | tr "\\n" " "; echo; stat -c %a chmod-me; cat append-me'
        ].join(' && ')
        const run = sandboxSh(who, [], script, { cwd: watched.dir })
        assert.equal(run.status, 0, run.stderr)
        assert.match(run.stdout, /append-me chmod-me created link renamed/)
        assert.match(run.stdout, /^600$/m)
        assert.match(run.stdout, /more/)
        assert.deepEqual(snapshotTree(watched.dir), before)
      } finally {
        watched.remove()
      }
    })

    it('hides masked credentials: the default list, --mask added to it, and --no-mask --mask instead of it', () => {
      // Every default mask path (options/schema.ts DEFAULT_MASK), each with a secret of its own.
      const credentials: Record<string, string> = {
        '.ssh/id_ed25519': 'SSH-KEY',
        '.aws/credentials': 'AWS-SECRET',
        '.config/gcloud/credentials.db': 'GCLOUD-SECRET',
        '.docker/config.json': 'DOCKER-AUTH',
        '.kube/config': 'KUBE-TOKEN',
        '.netrc': 'NETRC-PASSWORD',
        '.npmrc': 'NPM-TOKEN'
      }
      const home = tempDirFor(who, 'nsb-home-', who.home)
      try {
        for (const [file, secret] of Object.entries(credentials)) {
          fs.mkdirSync(path.dirname(path.join(home.dir, file)), { recursive: true })
          fs.writeFileSync(path.join(home.dir, file), `${secret}\n`)
        }
        fs.writeFileSync(path.join(home.dir, 'project-secret.txt'), 'CUSTOM-SECRET\n')
        spawnChown(home.dir, who.uid, who.gid)
        const readAll = `for f in ${Object.keys(credentials).join(' ')} project-secret.txt; do cat ~/$f 2>/dev/null; done; echo done`
        const masked = sandboxSh(who, [], readAll, { env: { HOME: home.dir } })
        assert.equal(masked.status, 0, masked.stderr)
        assert.equal(masked.stdout, 'CUSTOM-SECRET\ndone\n', 'only the file outside the default list is readable')
        // The same files are readable with masking turned off: the mask is what hid them.
        const unmasked = sandboxSh(who, ['--no-mask'], readAll, { env: { HOME: home.dir } })
        assert.equal(unmasked.stdout, [...Object.values(credentials), 'CUSTOM-SECRET', 'done', ''].join('\n'))
        // --mask adds to the default list (it used to replace it, unmasking every credential)...
        const added = sandboxSh(who, ['--mask', '~/project-secret.txt'], readAll, { env: { HOME: home.dir } })
        assert.equal(added.stdout, 'done\n')
        // ...and replaces it only after --no-mask.
        const custom = sandboxSh(who, ['--no-mask', '--mask', '~/project-secret.txt'], readAll, { env: { HOME: home.dir } })
        assert.equal(custom.stdout, [...Object.values(credentials), 'done', ''].join('\n'))
      } finally {
        home.remove()
      }
    })

    it('bounds every tmpfs it writes to: 1GiB by default, --tmpfs-size to change it, the copy-on-write layers too', () => {
      const sizes = sandboxSh(who, [], 'for area in /tmp /run /var/tmp /dev/shm; do echo "$area $(df -k $area | tail -1 | tr -s " " | cut -d" " -f2)"; done')
      assert.equal(sizes.status, 0, sizes.stderr)
      assert.deepEqual(sizes.stdout.trim().split('\n'), ['/tmp 1048576', '/run 1048576', '/var/tmp 1048576', '/dev/shm 1048576'])
      const project = tempDirFor(who, 'nsb-tmpfs-')
      try {
        const fill = (file: string): string => `head -c 16777216 /dev/zero > ${file} 2>/dev/null && echo "${file} written" || echo "${file} full"`
        const run = sandboxSh(who, ['--tmpfs-size', '8MiB'], [fill('/tmp/big'), fill('/dev/shm/big'), fill('big')].join('; '), { cwd: project.dir })
        assert.equal(run.status, 0, run.stderr)
        assert.deepEqual(run.stdout.trim().split('\n'), ['/tmp/big full', '/dev/shm/big full', 'big full'])
      } finally {
        project.remove()
      }
    })

    it('gives fresh /tmp, /proc, /dev and a read-only /sys', () => {
      const run = sandboxSh(who, [], [
        'ls -A /tmp | wc -l', 'ls /dev | tr "\\n" " "; echo', 'touch /sys/nsb 2>&1 || echo sys-readonly',
        'echo x > /dev/null && echo devnull-ok', 'head -c 4 /dev/urandom | wc -c', 'test -c /dev/pts/ptmx && echo devpts-ok',
        'touch /dev/shm/x && echo shm-ok'
      ].join('; '))
      assert.equal(run.status, 0, run.stderr)
      const lines = run.stdout.split('\n')
      assert.equal(lines[0]?.trim(), '0', 'the sandbox /tmp starts empty')
      for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'ptmx', 'shm', 'fd', 'stdin', 'stdout', 'stderr']) {
        assert.match(lines[1] ?? '', new RegExp(`(^| )${name}( |$)`), `/dev/${name}`)
      }
      assert.match(run.stdout, /sys-readonly/)
      assert.match(run.stdout, /devnull-ok/)
      assert.match(run.stdout, /^4$/m)
      assert.match(run.stdout, /devpts-ok/)
      assert.match(run.stdout, /shm-ok/)
    })

    it('binds a directory whose name holds a colon, written \\: in --bind', () => {
      const parent = tempDirFor(who, 'nsb-colon-')
      try {
        const source = path.join(parent.dir, 'data:v1')
        fs.mkdirSync(source)
        fs.writeFileSync(path.join(source, 'file'), 'colon\n')
        spawnChown(parent.dir, who.uid, who.gid)
        const escape = (p: string): string => p.replaceAll(':', '\\:')
        const run = sandboxSh(who, ['--bind', `${escape(source)}:${escape('/mnt/x:y')}:ro`], 'cat "/mnt/x:y/file"; (echo x > "/mnt/x:y/file") 2>/dev/null || echo read-only')
        assert.equal(run.status, 0, run.stderr)
        assert.equal(run.stdout, 'colon\nread-only\n')
      } finally {
        parent.remove()
      }
    })

    it('binds paths read-only or read-write on request and refuses to write a read-only host', () => {
      const shared = tempDirFor(who, 'nsb-shared-')
      const readOnly = tempDirFor(who, 'nsb-ro-')
      try {
        fs.writeFileSync(path.join(readOnly.dir, 'data'), 'original\n')
        spawnChown(readOnly.dir, who.uid, who.gid)
        const run = sandboxSh(who, ['--writable', shared.dir, '--bind', `${readOnly.dir}:/data:ro`],
          `echo live > ${shared.dir}/out && cat /data/data && (echo x > /data/data) 2>/dev/null || echo bind-readonly`)
        assert.equal(run.status, 0, run.stderr)
        assert.equal(fs.readFileSync(path.join(shared.dir, 'out'), 'utf8'), 'live\n')
        assert.match(run.stdout, /original/)
        assert.match(run.stdout, /bind-readonly/)
        assert.equal(fs.readFileSync(path.join(readOnly.dir, 'data'), 'utf8'), 'original\n')

        const strict = sandboxSh(who, ['--readonly'], `(echo x > ${who.home}/nsb-ro-test) 2>&1; echo tmp > /tmp/ok && cat /tmp/ok`)
        assert.match(strict.stdout, /Read-only file system/)
        assert.match(strict.stdout, /^tmp$/m)
        assert.equal(fs.existsSync(path.join(who.home, 'nsb-ro-test')), false)
      } finally {
        shared.remove()
        readOnly.remove()
      }
    })
  })
}

describe('masks of the account\'s own home', () => {
  const user = identities().find((who) => who.uid !== 0)
  if (user === undefined) throw new Error('no unprivileged identity')

  // The unprivileged test user only: its passwd home is the test's own (/home/nsb-test),
  // while root's is the machine's /root, whose real credentials a test must not touch.
  it('hides the passwd home\'s credentials whatever HOME says (/, /tmp, empty, unset)', () => {
    const secrets: Record<string, string> = { '.ssh/id_rsa': 'SSH-KEY', '.npmrc': 'NPM-TOKEN', '.aws/credentials': 'AWS-SECRET' }
    const created: string[] = []
    try {
      for (const [file, secret] of Object.entries(secrets)) {
        const top = path.join(user.home, file.split('/')[0] ?? file)
        if (!fs.existsSync(top)) created.push(top)
        fs.mkdirSync(path.dirname(path.join(user.home, file)), { recursive: true })
        fs.writeFileSync(path.join(user.home, file), `${secret}\n`)
        spawnChown(top, user.uid, user.gid)
      }
      const readAll = `for f in ${Object.keys(secrets).join(' ')}; do cat ${user.home}/$f 2>/dev/null; done; echo done`
      for (const home of ['/', '/tmp', '', undefined]) {
        const run = sandboxSh(user, [], readAll, { env: { HOME: home } })
        assert.equal(run.status, 0, `HOME=${String(home)}: ${run.stderr}`)
        assert.equal(run.stdout, 'done\n', `HOME=${String(home)}: the account's credentials are readable inside`)
      }
      // What hid them is the mask: without it they are readable.
      const unmasked = sandboxSh(user, ['--no-mask'], readAll, { env: { HOME: '/tmp' } })
      assert.equal(unmasked.stdout, [...Object.values(secrets), 'done', ''].join('\n'))
    } finally {
      for (const top of created) fs.rmSync(top, { recursive: true, force: true })
    }
  })
})

function spawnChown (dir: string, uid: number, gid: number): void {
  const walk = (current: string): void => {
    fs.lchownSync(current, uid, gid)
    if (fs.lstatSync(current).isDirectory()) for (const name of fs.readdirSync(current)) walk(path.join(current, name))
  }
  walk(dir)
}
