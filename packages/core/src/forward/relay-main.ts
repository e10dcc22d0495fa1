/**
 * Entry of the relay process (bundled to dist/inside/relay.cjs, run as `node -`):
 * argv = [RELAY_MARK, '<fd>=<unix socket>', ...]. Serves until the sandbox ends.
 */
import net from 'node:net'
import { relayConnection } from './relay.js'
import { RELAY_MARK } from './spec.js'

for (const arg of process.argv.slice(2)) {
  if (arg === RELAY_MARK) continue
  const separator = arg.indexOf('=')
  const fd = Number(arg.slice(0, separator))
  const socketPath = arg.slice(separator + 1)
  net.createServer({ allowHalfOpen: true }, (client) => { relayConnection(client, socketPath, { unref: false }) })
    .listen({ fd })
}
