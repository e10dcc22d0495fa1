/**
 * The host's end of `forward`: the sandbox passes its listening sockets over the IPC
 * channel (pass-listeners.ts); the host accepts on them and joins each connection to the
 * service at host:port of its own loopback. A service that refuses resets the client at
 * once, as close to a refusal as TCP allows once the connection was accepted.
 */
import net from 'node:net'
import { joinSockets } from './join.js'
import { forwardIndexOf, type ForwardSpec } from './spec.js'

export class HostForwarder {
  private readonly servers: net.Server[] = []
  private readonly sockets = new Set<net.Socket>()
  private closed = false

  constructor (private readonly specs: readonly ForwardSpec[]) {}

  /** Takes an IPC message that carries a forward's listening socket; false for any other message. */
  adopt (message: unknown, handle: unknown): boolean {
    const index = forwardIndexOf(message)
    if (index === undefined) return false
    const spec = this.specs[index]
    if (spec === undefined || !(handle instanceof net.Server)) return true
    if (this.closed) { handle.close(); return true }
    handle.on('connection', (inner: net.Socket) => { this.connect(inner, spec) })
    handle.unref()
    this.servers.push(handle)
    return true
  }

  private connect (inner: net.Socket, spec: ForwardSpec): void {
    if (this.closed) { inner.destroy(); return }
    // The received server was made without options: keep half-closes (Duplex.allowHalfOpen) and send small writes at once.
    inner.allowHalfOpen = true
    inner.setNoDelay(true)
    const outer = net.connect({ host: spec.host, port: spec.port, allowHalfOpen: true, noDelay: true })
    for (const socket of [inner, outer]) {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    }
    let connected = false
    outer.once('connect', () => { connected = true })
    // Until the service accepts, the client's bytes wait in `outer`'s write queue.
    inner.pipe(outer)
    outer.pipe(inner)
    joinSockets(inner, outer, (failed) => { if (failed === outer && !connected) reset(inner) })
  }

  /** Stop accepting (the sandbox's listening sockets close with it) and cut every forwarded connection. */
  close (): void {
    this.closed = true
    for (const server of this.servers) server.close()
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
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
