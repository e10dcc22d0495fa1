/**
 * The string form of a bind, `src[:dst[:ro|rw]]`. A `:` inside a path is written `\:`
 * (and a backslash right before a separating `:` as `\\`); any other backslash is kept
 * as it is. The object form `{ source, target, readonly }` needs no escaping.
 */

export const BIND_FORMS = "src[:dst[:ro|rw]] with absolute paths (a ':' in a path is written '\\:')"

/** The fields of a bind string, unescaped: undefined when an escape is left open. */
export function splitBindSpec (value: string): string[] | undefined {
  const fields: string[] = []
  let current = ''
  for (let i = 0; i < value.length; i++) {
    const char = value[i]
    if (char === '\\') {
      const next = value[i + 1]
      if (next === ':' || next === '\\') {
        current += next
        i++
      } else if (next === undefined) {
        return undefined // a trailing lone backslash: the user meant to escape something
      } else {
        current += char
      }
    } else if (char === ':') {
      fields.push(current)
      current = ''
    } else {
      current += char
    }
  }
  fields.push(current)
  return fields
}
