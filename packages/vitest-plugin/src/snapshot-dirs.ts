/**
 * A live path must exist before its sandbox starts, but a test file's snapshot
 * directory is only created when its first snapshot is written. The pool creates it
 * on the host for the sandbox, and removes it again once no sandbox uses it, if it is
 * still empty. Sandboxes of files in one directory share the entry (reference count),
 * so one file ending never pulls the directory from under another.
 */
import fs from 'node:fs'
import path from 'node:path'

interface Created {
  users: number
  /** The outermost directory mkdir created. */
  top: string
}

const created = new Map<string, Created>()
let exitHook = false

/** Make sure `dir` exists; returns the release function, or undefined if it could not be created. */
export function acquireDirectory (dir: string): (() => void) | undefined {
  const entry = created.get(dir)
  if (entry !== undefined) {
    entry.users++
    return () => release(dir)
  }
  if (fs.existsSync(dir)) return () => {}
  let top: string | undefined
  try {
    top = fs.mkdirSync(dir, { recursive: true })
  } catch {
    return undefined
  }
  created.set(dir, { users: 1, top: top ?? dir })
  if (!exitHook) {
    exitHook = true
    // an interrupted run still leaves no empty directory behind
    process.on('exit', () => {
      for (const [dir, entry] of created) removeEmpty(dir, entry.top)
    })
  }
  return () => release(dir)
}

function release (dir: string): void {
  const entry = created.get(dir)
  if (entry === undefined || --entry.users > 0) return
  created.delete(dir)
  removeEmpty(dir, entry.top)
}

function removeEmpty (dir: string, top: string): void {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      fs.rmdirSync(current)
    } catch {
      return // not empty (a snapshot was written) or already gone
    }
    if (current === top) return
  }
}
