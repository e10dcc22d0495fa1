/**
 * @ns-sandbox/core is an ES module; this package is CommonJS because Jest loads
 * runners and environments with require(). Node 20 cannot require() ESM, so core is
 * imported dynamically. Through `new Function` because Jest may run this file through
 * the project's transform (babel-jest with preset-env rewrites `import()` to require()).
 */
import { pathToFileURL } from 'node:url'

export type Core = typeof import('@ns-sandbox/core')

const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>
let loading: Promise<Core> | undefined

export function loadCore (): Promise<Core> {
  loading ??= importModule(pathToFileURL(require.resolve('@ns-sandbox/core')).href) as Promise<Core>
  return loading
}
