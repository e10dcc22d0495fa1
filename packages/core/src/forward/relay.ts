/**
 * The sandbox's end of `forward`: a server on host:port of the sandbox's own loopback
 * whose clients are each joined to the forward's unix socket (host-forwarder.ts).
 * Nothing flows back before the host's FORWARD_ACK; a socket that ends without one (the
 * host service refused) resets the client at once, as close to a refusal as TCP allows
 * once the connection was accepted here.
 */
import { once } from 'node:events'
import net from 'node:net'
import type { RelayTarget } from '../protocol.js'
import { FORWARD_ACK } from './spec.js'
import { joinSockets } from './join.js'

export interface RelayOptions {
  /** In the test's own process: never keep it alive (pending writes still finish). */
  unref: boolean
}

function reset (client: net.Socket): void {
  if (client.destroyed) return
  try {
    client.resetAndDestroy()
  } catch {
    client.destroy()
  }
}

export function relayConnection (client: net.Socket, socketPath: string, options: RelayOptions): void {
  const upstream = net.connect({ path: socketPath, allowHalfOpen: true })
  // A relay must not hold back small segments (Nagle): each hop would add a delayed ACK.
  client.setNoDelay(true)
  if (options.unref) { client.unref(); upstream.unref() }
  let acknowledged = false
  client.pipe(upstream)
  upstream.on('data', (chunk: Buffer) => {
    if (!acknowledged) {
      acknowledged = true
      if (chunk[0] !== FORWARD_ACK) { reset(client); upstream.destroy(); return }
      chunk = chunk.subarray(1)
      if (chunk.length === 0) return
    }
    if (!client.write(chunk)) upstream.pause()
  })
  client.on('drain', () => { upstream.resume() })
  upstream.on('end', () => { if (acknowledged) client.end(); else reset(client) })
  joinSockets(client, upstream, (failed) => { if (failed === upstream && !acknowledged) reset(client) })
}

/** A relay server for each target, listening; connections are relayed once a handler is attached. */
export async function listenRelays (targets: readonly RelayTarget[], handle: ((client: net.Socket, target: RelayTarget) => void) | undefined): Promise<net.Server[]> {
  const servers: net.Server[] = []
  for (const target of targets) {
    const server = net.createServer({ allowHalfOpen: true })
    if (handle !== undefined) server.on('connection', (client: net.Socket) => { handle(client, target) })
    server.listen({ host: target.host, port: target.port })
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error })])
    servers.push(server)
  }
  return servers
}

/** In-process relays for a Node entry: listening before the entry loads, never keeping the process alive. */
export async function startInProcessRelays (targets: readonly RelayTarget[]): Promise<void> {
  const servers = await listenRelays(targets, (client, target) => { relayConnection(client, target.socket, { unref: true }) })
  for (const server of servers) server.unref()
}
