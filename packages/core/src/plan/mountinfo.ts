/** Parsing of /proc/self/mountinfo (proc(5)): the facts the mount plan is computed from. */

export interface MountInfoEntry {
  mountId: number
  parentId: number
  /** Where it is mounted, unescaped. */
  mountPoint: string
  /** The root of the mount within its filesystem. */
  root: string
  fsType: string
  source: string
  mountOptions: string[]
  superOptions: string[]
}

/** Undo the kernel's octal escapes (`\040` for a space, `\012` newline, `\134` backslash). */
export function unescapeMountField (field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

export function parseMountInfo (text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const separator = line.indexOf(' - ')
    if (separator < 0) throw new Error(`mountinfo line without separator: ${line}`)
    const left = line.slice(0, separator).split(' ')
    const right = line.slice(separator + 3).split(' ')
    if (left.length < 6 || right.length < 3) throw new Error(`malformed mountinfo line: ${line}`)
    entries.push({
      mountId: Number(left[0]),
      parentId: Number(left[1]),
      root: unescapeMountField(left[3] ?? ''),
      mountPoint: unescapeMountField(left[4] ?? ''),
      mountOptions: (left[5] ?? '').split(','),
      fsType: right[0] ?? '',
      source: unescapeMountField(right[1] ?? ''),
      superOptions: (right[2] ?? '').split(',')
    })
  }
  return entries
}

/** True when `path` is `ancestor` or lies below it (both absolute and normalized). */
export function isSameOrBelow (path: string, ancestor: string): boolean {
  if (ancestor === '/') return true
  return path === ancestor || path.startsWith(ancestor + '/')
}

/** Mount points strictly below `dir`. */
export function mountPointsBelow (mounts: readonly MountInfoEntry[], dir: string): string[] {
  return mounts.map((m) => m.mountPoint).filter((point) => point !== dir && isSameOrBelow(point, dir))
}
