/** The rootfs cache: importing archives (tar, tar.gz, tar.zst, OCI layout, docker save) into content-addressed directories. */
export type { RootfsEntry, RootfsImportOptions } from './types.js'
export { defaultRootfsCacheDir } from './cache-layout.js'
export { importRootfs, resolveRootfs } from './import.js'
export { listRootfs, removeRootfs, pruneRootfs } from './cache.js'
