/** Error and close handling shared by both ends of a forward; data flows through pipe(). */
import type net from 'node:net'

/**
 * An error on either side ends both at once (no hang, no half-dead pair). A side that
 * closed lets the other finish writing what it holds, then half-close.
 */
export function joinSockets (a: net.Socket, b: net.Socket, onError: (failed: net.Socket) => void = () => {}): void {
  const fail = (failed: net.Socket): void => {
    onError(failed)
    a.destroy()
    b.destroy()
  }
  a.on('error', () => { fail(a) })
  b.on('error', () => { fail(b) })
  a.once('close', () => { b.end() })
  b.once('close', () => { a.end() })
}
