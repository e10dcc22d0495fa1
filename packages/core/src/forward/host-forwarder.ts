/**
 * The host's end of `forward`: the sandbox passes its listening sockets over the IPC
 * channel (pass-listeners.ts); the host accepts on them, connects to the service at
 * host:port of its own loopback and hands both sockets to the relay thread
 * (splice-relay.ts). A service that refuses resets the client at once, as close to a
 * refusal as TCP allows once the connection was accepted.
 */
import net from 'node:net'
import { SpliceRelay } from './splice-relay.js'
import { forwardIndexOf, type ForwardSpec } from './spec.js'

interface Connection { client: net.Socket, service: net.Socket, relayId?: number }

export class HostForwarder {
  private readonly servers: net.Server[] = []
  private readonly connections = new Set<Connection>()
  private readonly relay = SpliceRelay.get()
  private closed = false
  private drained: (() => void) | undefined
  private closing: Promise<void> | undefined

  constructor (private readonly specs: readonly ForwardSpec[]) {}

  /** Takes an IPC message that carries a forward's listening socket; false for any other message. */
  adopt (message: unknown, handle: unknown): boolean {
    const index = forwardIndexOf(message)
    if (index === undefined) return false
    const spec = this.specs[index]
    if (spec === undefined || !(handle instanceof net.Server)) return true
    if (this.closed) { handle.close(); return true }
    // The received server was made without options; this is the `pauseOnConnect` option's
    // field: an accepted socket is never read here, its bytes are the relay thread's.
    (handle as net.Server & { pauseOnConnect: boolean }).pauseOnConnect = true
    handle.on('connection', (client: net.Socket) => { this.connect(client, spec) })
    handle.unref()
    this.servers.push(handle)
    return true
  }

  private connect (client: net.Socket, spec: ForwardSpec): void {
    if (this.closed) { client.destroy(); return }
    const service = net.connect({ host: spec.host, port: spec.port, noDelay: true })
    const connection: Connection = { client, service }
    this.connections.add(connection)
    client.setNoDelay(true)
    client.on('error', () => {}) // never read or written here: nothing to report
    service.on('error', () => { this.finish(connection, 'ECONNREFUSED') })
    service.once('connect', () => {
      service.pause() // before Node starts reading it: from here on the relay thread does
      if (this.closed) { this.finish(connection, undefined); return }
      connection.relayId = this.relay.join(client, service, (error) => { this.finish(connection, error) })
    })
  }

  private finish (connection: Connection, error: string | undefined): void {
    if (!this.connections.delete(connection)) return
    // A failure on either side (or a refusal) reaches the client as a reset, a clean end as a close.
    if (error === undefined) connection.client.destroy()
    else reset(connection.client)
    connection.service.destroy()
    if (this.connections.size === 0) this.drained?.()
  }

  /**
   * Stop accepting (the sandbox's listening sockets close with it) and cut every forwarded
   * connection. Resolves when the host holds no socket of the sandbox any more: a
   * connection in the relay thread is closed once the thread has let go of it.
   */
  close (): Promise<void> {
    // Once: the result and the exit hook may both ask, and must wait for the same drain.
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce (): Promise<void> {
    this.closed = true
    for (const server of this.servers) server.close()
    const drained = new Promise<void>((resolve) => { this.drained = resolve })
    for (const connection of [...this.connections]) {
      if (connection.relayId === undefined) this.finish(connection, 'closed')
      else this.relay.drop(connection.relayId)
    }
    if (this.connections.size === 0) return
    // Bounded: a relay thread that stopped answering must not hold the result forever.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, 2000).unref() })])
    clearTimeout(timer)
  }
}

function reset (client: net.Socket): void {
  if (client.destroyed) return
  try {
    client.resetAndDestroy()
  } catch {
    client.destroy()
  }
}
