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

/** The IPC message that carries a forward's listening socket from the sandbox to the host. */
const FORWARD_KEY = 'nsSandboxForward'

export function forwardMessage (index: number): Record<string, number> {
  return { [FORWARD_KEY]: index }
}

/** The forward's index if `message` carries a listening socket, else undefined. */
export function forwardIndexOf (message: unknown): number | undefined {
  if (typeof message !== 'object' || message === null) return undefined
  const index = (message as Record<string, unknown>)[FORWARD_KEY]
  return typeof index === 'number' ? index : undefined
}
