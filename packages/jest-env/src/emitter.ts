/** The smallest event emitter Jest's scheduler needs: `on` returns an unsubscribe, `emit` awaits the listeners. */
export type Listener<T> = (args: T) => unknown

export class Emitter {
  private readonly listeners = new Map<string, Set<Listener<never>>>()

  on<T> (event: string, listener: Listener<T>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return () => { set.delete(listener as Listener<never>) }
  }

  async emit (event: string, args: unknown): Promise<void> {
    const listeners = [...(this.listeners.get(event) ?? [])] as Array<Listener<unknown>>
    await Promise.all(listeners.map(async (listener) => { await listener(args) }))
  }
}
