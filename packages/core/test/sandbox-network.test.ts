/** Each sandbox has its own loopback; the host's services are out of reach unless asked for. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import { describe, it } from 'node:test'
import { identities } from '../../../test/helpers/identity.js'
import { cliAsync, sandboxSh, waitFor } from './helpers/cli.js'

/** Listens on 127.0.0.1:3000 and stays until its stdin ends, so two of them overlap for sure. */
const LISTEN_3000 = "require('net').createServer().listen(3000, '127.0.0.1', () => { console.log('listening'); process.stdin.on('end', () => process.exit(0)).resume() }).on('error', (e) => { console.log(e.code); process.exit(3) })"

function connectScript (port: number): string {
  return `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })"`
}

for (const who of identities()) {
  describe(`network as ${who.name}`, () => {
    it('lets two sandboxes listen on 127.0.0.1:3000 at the same time', async () => {
      const listeners = [1, 2].map(() => {
        const child = cliAsync(who, ['run', '--', process.execPath, '-e', LISTEN_3000], { stdin: 'pipe' })
        const state = { out: '', exit: once(child, 'exit') as Promise<[number | null]> }
        child.stdout?.on('data', (chunk: Buffer) => { state.out += chunk.toString() })
        return { child, state }
      })
      try {
        await waitFor(() => listeners.every(({ state }) => state.out !== ''), 20_000)
        // Both are listening now, and neither has been told to stop.
        for (const { state } of listeners) assert.equal(state.out, 'listening\n')
      } finally {
        for (const { child } of listeners) child.stdin?.end()
      }
      for (const { state } of listeners) {
        const [code] = await state.exit
        assert.equal(code, 0, state.out)
      }
    })

    it('reaches a host service on loopback only with --network host', async () => {
      const server = net.createServer((socket) => socket.end('hello')).listen(0, '127.0.0.1')
      await once(server, 'listening')
      const { port } = server.address() as net.AddressInfo
      try {
        const isolated = sandboxSh(who, [], connectScript(port))
        assert.equal(isolated.stdout.trim(), 'ECONNREFUSED', isolated.stderr)
        const shared = sandboxSh(who, ['--network', 'host'], connectScript(port))
        assert.equal(shared.stdout.trim(), 'connected', shared.stderr)
      } finally {
        server.close()
      }
    })

    it('resolves its own hostname to 127.0.0.1, keeping the host\'s /etc/hosts entries and leaving the host\'s file unchanged', () => {
      const hostFile = fs.readFileSync('/etc/hosts')
      const lookup = `node -e "require('dns').lookup(require('os').hostname(), (e, a) => console.log(e ? e.code : a))"`
      for (const network of ['loopback', 'none', 'host']) {
        const run = sandboxSh(who, ['--hostname', 'box-1', '--network', network],
          `getent hosts box-1; ${lookup}; cat /etc/hosts; echo 192.0.2.9 extra >> /etc/hosts && echo writable`)
        assert.equal(run.status, 0, `${network}: ${run.stderr}`)
        const [getent, dns, ...inside] = run.stdout.split('\n')
        assert.match(getent ?? '', /^127\.0\.0\.1\s+box-1$/, network)
        assert.equal(dns, '127.0.0.1', network)
        // every host entry is still there, and the sandbox may edit its own copy
        for (const line of hostFile.toString().split('\n').filter(Boolean)) assert.ok(inside.includes(line), `${network}: ${line}`)
        assert.match(run.stdout, /^writable$/m)
      }
      assert.deepEqual(fs.readFileSync('/etc/hosts'), hostFile)
    })

    it('has only lo inside, up with loopback and down with none', () => {
      // Both the sandbox's sysfs and the kernel's own list (/proc/net/dev) name every device.
      const devices = 'ls /sys/class/net | tr "\\n" " "; echo; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " "; echo'
      const loopback = sandboxSh(who, [], `${devices}; cat /sys/class/net/lo/flags`)
      assert.equal(loopback.status, 0, loopback.stderr)
      assert.equal(loopback.stdout, 'lo \nlo \n0x9\n', 'only lo, IFF_UP|IFF_LOOPBACK')
      const none = sandboxSh(who, ['--network', 'none'], `${devices}; cat /sys/class/net/lo/flags; ${connectScript(1)}`)
      assert.match(none.stdout, /^lo \nlo \n0x8\n/)
      assert.match(none.stdout, /ENETUNREACH|EADDRNOTAVAIL|ECONNREFUSED/)
    })
  })
}
