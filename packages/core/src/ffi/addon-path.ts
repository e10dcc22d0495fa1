/**
 * Where koffi's prebuilt addon for this platform is, resolved once in the host so that
 * each sandbox's bootstrap can dlopen it without koffi's ~20 ms of module resolution
 * and platform detection. Resolves a path only; koffi is loaded in ffi/libc.ts.
 */
import { createRequire } from 'node:module'

let cached: string | null | undefined

export function koffiAddonPath (): string | undefined {
  if (cached === undefined) {
    try {
      const fromKoffi = createRequire(createRequire(import.meta.url).resolve('koffi'))
      cached = fromKoffi.resolve(`@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`)
    } catch {
      cached = null
    }
  }
  return cached ?? undefined
}
