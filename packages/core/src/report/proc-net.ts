/**
 * Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} lines. Addresses are printed as
 * 32-bit words in the kernel's byte order; ports in hex, already in host order.
 */
import os from 'node:os'
import type { ListeningSocket } from './types.js'

export type ProcNetTable = 'tcp' | 'tcp6' | 'udp' | 'udp6'

const TCP_LISTEN = '0A'
/** An unconnected UDP socket (TCP_CLOSE): bound, receiving from anyone. */
const UDP_UNCONNECTED = '07'

function wordsToBytes (hex: string, littleEndian: boolean): number[] {
  const bytes: number[] = []
  for (let word = 0; word < hex.length; word += 8) {
    const pairs = (hex.slice(word, word + 8).match(/../g) ?? []).map((pair) => parseInt(pair, 16))
    bytes.push(...(littleEndian ? pairs.reverse() : pairs))
  }
  return bytes
}

function formatIpv6 (bytes: number[]): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`
  // Compress the longest run of two or more zero groups, as inet_ntop does.
  let best = -1
  let bestLength = 1
  for (let start = 0; start < 8;) {
    let end = start
    while (end < 8 && groups[end] === 0) end++
    if (end - start > bestLength) { best = start; bestLength = end - start }
    start = end === start ? start + 1 : end
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`
}

export function decodeAddress (hex: string, littleEndian = os.endianness() === 'LE'): string {
  const bytes = wordsToBytes(hex, littleEndian)
  return hex.length === 8 ? bytes.join('.') : formatIpv6(bytes)
}

/** Listening (TCP) or bound unconnected (UDP) sockets of one table; other lines are ignored. */
export function parseProcNet (table: ProcNetTable, lines: readonly string[], littleEndian = os.endianness() === 'LE'): ListeningSocket[] {
  const protocol = table.startsWith('tcp') ? 'tcp' : 'udp'
  const wanted = protocol === 'tcp' ? TCP_LISTEN : UDP_UNCONNECTED
  const sockets: ListeningSocket[] = []
  for (const line of lines) {
    const [slot, local, remote, state] = line.trim().split(/\s+/)
    if (slot === undefined || !/^\d+:$/.test(slot) || local === undefined || remote === undefined || state !== wanted) continue
    const [address, port] = local.split(':')
    if (address === undefined || port === undefined || !/^[0-9A-Fa-f]+$/.test(address) || (address.length !== 8 && address.length !== 32)) continue
    if (protocol === 'udp' && !remote.endsWith(':0000')) continue
    sockets.push({ protocol, address: decodeAddress(address, littleEndian), port: parseInt(port, 16) })
  }
  return sockets
}
