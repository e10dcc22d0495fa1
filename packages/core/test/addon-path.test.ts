/** The sandbox dlopens koffi's addon by the path the host found; no fallback hides a miss. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { koffiAddonPath } from '../src/ffi/addon-path.js'
import { loadLibc, setInheritable } from '../src/ffi/libc.js'

describe('koffi addon path', () => {
  it('names this platform\'s native addon, and libc binds through it', () => {
    const addon = koffiAddonPath()
    assert.match(addon, new RegExp(`${process.platform}_${process.arch}/koffi\\.node$`))
    assert.ok(fs.statSync(addon).isFile())
    loadLibc(addon)
    const fd = fs.openSync('/dev/null', 'r')
    try {
      setInheritable(fd, true)
      setInheritable(fd, false)
    } finally {
      fs.closeSync(fd)
    }
  })
})
