/** Each sandbox has its own loopback; the host's services are out of reach unless asked for. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import { identities } from '../../../test/helpers/identity.js'
import { cliAsync, sandboxSh } from './helpers/cli.js'

const LISTEN_3000 = "require('net').createServer().listen(3000, '127.0.0.1', () => { console.log('listening'); setTimeout(() => process.exit(0), 1500) }).on('error', (e) => { console.log(e.code); process.exit(3) })"

function connectScript (port: number): string {
  return `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })"`
}

for (const who of identities()) {
  describe(`network as ${who.name}`, () => {
    it('lets two sandboxes listen on 127.0.0.1:3000 at the same time', async () => {
      const first = cliAsync(who, ['run', '--', process.execPath, '-e', LISTEN_3000])
      const second = cliAsync(who, ['run', '--', process.execPath, '-e', LISTEN_3000])
      const outputs = await Promise.all([first, second].map(async (child) => {
        let out = ''
        child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
        const [code] = await once(child, 'exit') as [number | null]
        return { code, out }
      }))
      for (const { code, out } of outputs) {
        assert.equal(code, 0, out)
        assert.equal(out.trim(), 'listening')
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

    it('has only lo inside, up with loopback and down with none', () => {
      const loopback = sandboxSh(who, [], 'ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags')
      assert.equal(loopback.status, 0, loopback.stderr)
      assert.match(loopback.stdout, /^lo\n/)
      assert.match(loopback.stdout, /0x9$/m, 'lo is IFF_UP|IFF_LOOPBACK')
      const none = sandboxSh(who, ['--network', 'none'], `ls /sys/class/net; cat /sys/class/net/lo/flags; ${connectScript(1)}`)
      assert.match(none.stdout, /^lo\n0x8\n/)
      assert.match(none.stdout, /ENETUNREACH|EADDRNOTAVAIL|ECONNREFUSED/)
    })
  })
}
