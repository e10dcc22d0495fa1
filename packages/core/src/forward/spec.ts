/**
 * `forward` entries: `5432`, `'6379'`, `'127.0.0.1:8080'`, `'localhost:3000'`, `'[::1]:8080'`.
 * Only the host's loopback may be named: a forward opens one host service to the
 * sandbox, never a way out to the network.
 */
import net from 'node:net'

export interface ForwardSpec {
  /** Host loopback address, connected to on the host and listened on inside. */
  host: string
  port: number
}

/** Directory inside the sandbox holding one unix socket per forward (bound read-only from scratch). */
export const FORWARD_MOUNT = '/run/ns-sandbox'

/** Socket name of a forward, in the host's scratch and in FORWARD_MOUNT. */
export function forwardSocketName (spec: ForwardSpec): string {
  return `${spec.host}_${spec.port}`
}

function isLoopback (host: string): boolean {
  return (net.isIPv4(host) && host.startsWith('127.')) || host === '::1'
}

function parsePort (text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

/** A valid spec, or the problem as a sentence. */
export function parseForward (value: unknown): ForwardSpec | string {
  const shown = JSON.stringify(value)
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 1 && value <= 65535 ? { host: '127.0.0.1', port: value } : `port ${shown} is not in 1-65535`
  }
  if (typeof value !== 'string') return `expected a port number or 'host:port', got ${shown}`
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value)
  const hostText = match === null ? '127.0.0.1' : (match[1] ?? match[2] ?? '')
  const port = parsePort(match === null ? value : match[3] ?? '')
  if (port === undefined) return `${shown}: expected a port in 1-65535, or 'host:port' with a loopback host`
  const host = hostText === 'localhost' ? '127.0.0.1' : hostText
  if (!isLoopback(host)) return `${shown}: only the host's loopback (127.x.x.x, [::1], localhost) can be forwarded`
  return { host, port }
}

/** The relay process (for a command's forwards) carries this argument: `ps`, pgrep and the report know it by it. */
export const RELAY_MARK = 'ns-sandbox-relay'

/** Sent by the host once the host service accepted a forwarded connection. */
export const FORWARD_ACK = 0x01
