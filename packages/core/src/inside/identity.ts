/** Hostname and network inside the sandbox. */
import { interfaceUp, sethostname } from '../ffi/libc.js'
import type { NetworkMode } from '../options/schema.js'

export function setUpHostAndNetwork (hostname: string, network: NetworkMode): void {
  sethostname(hostname)
  // `none` keeps a network namespace with lo down; `host` never entered a new one.
  if (network === 'loopback') interfaceUp('lo')
}
