/**
 * Where koffi's native addon for this platform is, resolved once in the host so that each
 * sandbox's bootstrap can dlopen it without koffi's ~20 ms of module resolution and
 * platform detection. Looks where koffi itself looks: its prebuilt package
 * (@koromix/koffi-<platform>-<arch>), then its own build directory (a source build).
 * Not found is an error that says so: there is no slower path that would work instead.
 * Resolves a path only; koffi is loaded in ffi/libc.ts.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { SandboxError } from '../errors.js'

let cached: string | undefined

/** glibc builds only: the sandbox binds libc.so.6. */
function candidates (): string[] {
  const koffiDir = path.dirname(createRequire(import.meta.url).resolve('koffi'))
  const triplet = `${process.platform}_${process.arch}`
  const found: string[] = []
  try {
    const prebuilt = path.dirname(createRequire(path.join(koffiDir, 'package.json'))
      .resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`))
    found.push(path.join(prebuilt, triplet, 'koffi.node'))
  } catch {
    // no prebuilt package for this platform: a source build, if any
  }
  found.push(path.join(koffiDir, 'build', 'koffi', triplet, 'koffi.node'))
  return found
}

export function koffiAddonPath (): string {
  if (cached === undefined) {
    let tried: string[] = []
    try {
      tried = candidates()
    } catch (error) {
      throw new SandboxError('NSB_SETUP_FAILED', `cannot find the koffi package: ${(error as Error).message}; reinstall (npm ci)`)
    }
    cached = tried.find((file) => fs.existsSync(file))
    if (cached === undefined) {
      throw new SandboxError('NSB_UNSUPPORTED_PLATFORM',
        `koffi has no native addon for ${process.platform}-${process.arch} (looked in ${tried.join(', ')}); reinstall koffi with its optional dependencies (npm ci)`)
    }
  }
  return cached
}
