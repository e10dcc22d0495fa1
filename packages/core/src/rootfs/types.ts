/** The public shapes of the rootfs cache. */

export interface RootfsImportOptions {
  /** Default: `$XDG_CACHE_HOME/ns-sandbox/rootfs`, else `~/.cache/ns-sandbox/rootfs`. */
  cacheDir?: string
  /** A name that points at the imported digest: `[a-z0-9][a-z0-9._-]*`, at most 128 characters. */
  name?: string
  /** Picks one image of an OCI layout or `docker save` archive that holds several. */
  imageRef?: string
  /** Archive-bomb limit on the total bytes of unpacked files (default 8 GiB). */
  maxBytes?: number
  /** Limit on the number of archive entries (default 1,000,000). */
  maxEntries?: number
  /** Apply the archive's uid/gid (default: true when running as root; otherwise files belong to the caller). */
  preserveOwnership?: boolean
  /** Keep setuid/setgid bits (default false: they are dropped, with one warning). */
  allowSetuid?: boolean
  onWarning?: (message: string) => void
  /** Called as archive bytes are read; `totalBytes` may grow once an image's layers are known. */
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void
}

export interface RootfsEntry {
  /**
   * `sha256:<hex>` of the archive file's bytes; with `imageRef`, the sha256 of
   * `<archive digest>\n<imageRef>` (an archive holding several images gives one entry per image).
   */
  digest: string
  /** Absolute path of the unpacked tree, usable as a read-only overlay lower layer. */
  dir: string
  /** Names that point at this digest, sorted. */
  names: string[]
  /** Bytes of regular files in the tree. */
  sizeBytes: number
  /** ISO 8601 time of the import. */
  importedAt: string
}
