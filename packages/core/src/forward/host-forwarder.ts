/**
 * The host's end of `forward`: a unix socket per forward in the sandbox's scratch (bound
 * into the sandbox at FORWARD_MOUNT: sockets cross network namespaces through the
 * filesystem). Each connection on it is joined to the host service at host:port; one
 * FORWARD_ACK byte first tells the relay inside that the service accepted.
 */
import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { FORWARD_ACK, forwardSocketName, type ForwardSpec } from './spec.js'
import { joinSockets } from './join.js'

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107

export class HostForwarder {
  private readonly sockets = new Set<net.Socket>()

  private constructor (private readonly servers: net.Server[]) {}

  /** Listen on `<dir>/<host>_<port>` for each forward; resolves once every socket exists. */
  static async start (dir: string, specs: readonly ForwardSpec[]): Promise<HostForwarder> {
    const forwarder = new HostForwarder([])
    try {
      for (const spec of specs) {
        const socketPath = path.join(dir, forwardSocketName(spec))
        if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
          throw new SandboxError('NSB_FORWARD_FAILED', `option \`forward\`: the socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`,
            { details: ['Set `scratchDir` (CLI: --scratch-dir) to a shorter directory.'] })
        }
        const server = net.createServer({ allowHalfOpen: true }, (inner) => { forwarder.connect(inner, spec) })
        forwarder.servers.push(server)
        server.listen(socketPath)
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error })])
        server.unref()
      }
    } catch (error) {
      forwarder.close()
      if (error instanceof SandboxError) throw error
      throw new SandboxError('NSB_FORWARD_FAILED', `option \`forward\`: cannot listen in ${dir}: ${(error as Error).message}`, { cause: error })
    }
    return forwarder
  }

  private connect (inner: net.Socket, spec: ForwardSpec): void {
    const outer = net.connect({ host: spec.host, port: spec.port, allowHalfOpen: true, noDelay: true })
    for (const socket of [inner, outer]) {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    }
    // Until the service accepts, the relay's bytes wait in `outer`'s write queue.
    inner.pipe(outer)
    outer.once('connect', () => {
      inner.write(Buffer.of(FORWARD_ACK))
      outer.pipe(inner)
    })
    joinSockets(inner, outer)
  }

  /** Stop listening (libuv unlinks the sockets) and cut every forwarded connection. */
  close (): void {
    for (const server of this.servers) server.close()
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
  }
}
