/** Collects warnings during an import and reports each kind once, with a count and examples. */

const EXAMPLES = 3

interface Kind { count: number, examples: string[], explain: (count: number, examples: string) => string }

export class ImportWarnings {
  private readonly kinds = new Map<string, Kind>()
  private readonly sink: ((message: string) => void) | undefined

  constructor (sink: ((message: string) => void) | undefined) {
    this.sink = sink
  }

  /** Records one occurrence of a warning kind; `explain` builds the final message. */
  add (key: string, member: string, explain: (count: number, examples: string) => string): void {
    let kind = this.kinds.get(key)
    if (kind === undefined) {
      kind = { count: 0, examples: [], explain }
      this.kinds.set(key, kind)
    }
    kind.count += 1
    if (kind.examples.length < EXAMPLES) kind.examples.push(member)
  }

  /** A one-off warning, reported as is (once per key). */
  once (key: string, message: string): void {
    this.add(key, '', () => message)
  }

  /** Sends every collected warning to the sink and forgets them. */
  flush (): void {
    for (const kind of this.kinds.values()) {
      const more = kind.count > kind.examples.length ? ', ...' : ''
      const examples = kind.examples.filter((item) => item !== '').join(', ') + more
      this.sink?.(kind.explain(kind.count, examples))
    }
    this.kinds.clear()
  }
}
