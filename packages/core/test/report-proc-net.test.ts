/** /proc/net tables and the init's report lines: pure parsers, real kernel formats. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseInitDump } from '../src/report/init-dump.js'
import { decodeAddress, parseProcNet } from '../src/report/proc-net.js'

const TCP = [
  'sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '0: 0100007F:11D7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 161780 1 00000000e45c3585 100 0 0 10 0',
  '1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 161781 1 00000000e45c3586 100 0 0 10 0',
  '2: 0100007F:11D7 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 161790 1 00000000e45c3587 20 4 30 10 -1'
]
const TCP6 = [
  'sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
  '1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
  '2: 0000000000000000FFFF00000100007F:0051 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0'
]
const UDP = [
  'sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
  '100: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0000000000000000 0',
  '101: 0100007F:D000 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 6 2 0000000000000000 0'
]

describe('/proc/net parser', () => {
  it('lists listening TCP sockets, IPv4 and IPv6, and skips headers and connections', () => {
    assert.deepEqual(parseProcNet('tcp', TCP, true), [
      { protocol: 'tcp', address: '127.0.0.1', port: 4567 },
      { protocol: 'tcp', address: '0.0.0.0', port: 3000 }
    ])
    assert.deepEqual(parseProcNet('tcp6', TCP6, true), [
      { protocol: 'tcp', address: '::1', port: 8080 },
      { protocol: 'tcp', address: '::', port: 80 },
      { protocol: 'tcp', address: '::ffff:127.0.0.1', port: 81 }
    ])
  })

  it('lists bound, unconnected UDP sockets only', () => {
    assert.deepEqual(parseProcNet('udp', UDP, true), [{ protocol: 'udp', address: '127.0.0.1', port: 53 }])
  })

  it('reads addresses in the kernel\'s byte order and compresses IPv6 like inet_ntop', () => {
    assert.equal(decodeAddress('0100007F', true), '127.0.0.1')
    assert.equal(decodeAddress('7F000001', false), '127.0.0.1')
    assert.equal(decodeAddress('B80D0120000000000000000001000000', true), '2001:db8::1')
    assert.equal(decodeAddress('B80D0120000000000100000000000000', true), '2001:db8::1:0:0')
    assert.equal(decodeAddress('B80D0120010000000100000001000000', true), '2001:db8:0:1:0:1:0:1')
  })

  it('ignores lines it does not understand', () => {
    assert.deepEqual(parseProcNet('tcp', ['', 'garbage', '0: XYZ:0050 00000000:0000 0A', '0: 0100007F 00000000:0000 0A'], true), [])
  })
})

describe('the init\'s report lines', () => {
  it('parses processes (argv split, newlines restored), skips zombies, keeps a bare name', () => {
    const dump = parseInitDump([
      '{"type":"ready","setupMs":3,"phases":{}}',
      '@nsb proc 5 sleep\x1f1000\x1f',
      '@nsb proc 6 sh\x1f-c\x1fecho a\x1eecho b\x1f',
      '@nsb proc 7 ',
      '@nsb proc 8 [busybox]',
      '@nsb tcp ' + (TCP[1] ?? ''),
      '@nsb tcp6 ' + (TCP6[1] ?? ''),
      '@nsb udp ' + (UDP[1] ?? ''),
      '@nsb end'
    ])
    assert.equal(dump.complete, true)
    assert.deepEqual(dump.processes, [
      { pid: 5, argv: ['sleep', '1000'], command: 'sleep 1000' },
      { pid: 6, argv: ['sh', '-c', 'echo a\necho b'], command: 'sh -c echo a\necho b' },
      { pid: 8, argv: ['[busybox]'], command: '[busybox]' }
    ])
    assert.deepEqual(dump.sockets.map((s) => `${s.protocol} ${s.address} ${s.port}`), ['tcp 127.0.0.1 4567', 'tcp ::1 8080', 'udp 127.0.0.1 53'])
  })

  it('says when the init never finished (the sandbox was killed)', () => {
    assert.equal(parseInitDump(['@nsb proc 5 sleep\x1f1\x1f']).complete, false)
    assert.equal(parseInitDump([]).complete, false)
  })

  it('lists a socket shared by several processes once', () => {
    const line = '@nsb tcp ' + (TCP[1] ?? '')
    assert.equal(parseInitDump([line, line, '@nsb end']).sockets.length, 1)
  })
})
