/**
 * Path globs for `reportIgnore`: `**` any number of directories (none too), `*` and `?`
 * within one name, `[...]` a character class. Our own, not `path.matchesGlob`: that
 * prints an ExperimentalWarning on Node 20 and 22 in the runner's output.
 */
import path from 'node:path'

export function globToRegExp (glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? ''
    if (c === '*' && glob[i + 1] === '*') {
      const slashBefore = i === 0 || glob[i - 1] === '/'
      const slashAfter = glob[i + 2] === '/'
      if (slashBefore && slashAfter) { source += '(?:.*/)?'; i += 2 } else if (slashBefore && i + 2 === glob.length && source.endsWith('/')) {
        // `/a/**` also matches `/a` itself
        source = source.slice(0, -1) + '(?:/.*)?'
        i += 1
      } else { source += '.*'; i += 1 }
    } else if (c === '*') {
      source += '[^/]*'
    } else if (c === '?') {
      source += '[^/]'
    } else if (c === '[' && glob.indexOf(']', i + 2) > 0) {
      const end = glob.indexOf(']', i + 2)
      const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')
      source += `[${body}]`
      i = end
    } else {
      source += c.replace(/[.+^${}()|\\]/g, '\\$&')
    }
  }
  return new RegExp(`^${source}$`)
}

/**
 * A predicate: does a path, or a directory above it, match one of the globs? Relative
 * globs are taken from the project directory.
 */
export function pathMatcher (globs: readonly string[], projectDir: string): (target: string) => boolean {
  if (globs.length === 0) return () => false
  const patterns = globs.map((glob) => globToRegExp(glob.startsWith('/') ? glob : path.posix.join(projectDir, glob)))
  return (target) => {
    for (let current = target; ; current = path.posix.dirname(current)) {
      if (patterns.some((pattern) => pattern.test(current))) return true
      if (current === '/') return false
    }
  }
}
