/** Why a path the user named cannot be used, in words for an option error. */
import fs from 'node:fs'

export function pathProblem (error: unknown, deniedAs = 'is not accessible to you'): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist'
  if (code === 'EACCES') return deniedAs
  return (error as Error).message
}

/** Undefined when `dir` is a directory the caller may use with `mode` (X_OK, W_OK), else why not. */
export function directoryProblem (dir: string, mode: number, deniedAs: string): string | undefined {
  try {
    if (!fs.statSync(dir).isDirectory()) return 'is not a directory'
    fs.accessSync(dir, mode)
    return undefined
  } catch (error) {
    return pathProblem(error, deniedAs)
  }
}
