/**
 * Image archives (OCI layout or `docker save`) are recognised after their outer tar was
 * unpacked; their layers are then applied in order onto a fresh tree, with whiteouts,
 * and each layer is checked against its digest as it streams.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { sniffArchive } from './archive-format.js'
import { withTarStream } from './archive-stream.js'
import { parseDigest } from './digest.js'
import { readDockerLayers } from './docker-archive.js'
import { digestMismatch } from './image-blobs.js'
import type { ImagePlan } from './image-blobs.js'
import { dockerManifestSchema, tryReadJson } from './image-json.js'
import { readOciLayers } from './oci-image.js'
import { extractTar } from './safe-extract.js'
import type { ExtractBudget } from './limits.js'
import type { TreeWriter } from './tree-writer.js'
import type { ImportWarnings } from './warnings.js'

async function isFile (file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile()
  } catch {
    return false
  }
}

/** The image plan of an unpacked outer archive, or undefined for a plain root filesystem. */
export async function findImage (outer: string, archive: string, imageRef: string | undefined): Promise<ImagePlan | undefined> {
  const docker = await tryReadJson(path.join(outer, 'manifest.json'), dockerManifestSchema)
  if (docker !== undefined) return await readDockerLayers(outer, archive, docker, imageRef)
  if (await isFile(path.join(outer, 'oci-layout')) && await isFile(path.join(outer, 'index.json'))) {
    return await readOciLayers(outer, archive, imageRef)
  }
  return undefined
}

export interface ApplyLayersOptions {
  archive: string
  writer: TreeWriter
  budget: ExtractBudget
  warnings: ImportWarnings
  allowSetuid: boolean
  onBytes?: (bytes: number) => void
}

function hashFor (digest: string | undefined): Hash | undefined {
  const parsed = digest === undefined ? undefined : parseDigest(digest)
  return parsed === undefined ? undefined : createHash(parsed.algorithm)
}

export async function applyLayers (plan: ImagePlan, options: ApplyLayersOptions): Promise<void> {
  for (const layer of plan.layers) {
    const label = `${options.archive}: ${layer.label}`
    const { compression } = await sniffArchive(layer.file, label)
    const fileHash = hashFor(layer.blobDigest)
    const tarHash = hashFor(layer.diffId)
    const streamOptions = { archive: label, compression, budget: options.budget, ...(options.onBytes === undefined ? {} : { onBytes: options.onBytes }), ...(fileHash === undefined ? {} : { fileHash }), ...(tarHash === undefined ? {} : { tarHash }) }
    await withTarStream(layer.file, streamOptions, async (tar) => {
      await extractTar(tar, {
        archive: label,
        writer: options.writer,
        budget: options.budget,
        warnings: options.warnings,
        allowSetuid: options.allowSetuid,
        layer: true
      })
    })
    if (fileHash !== undefined && layer.blobDigest !== undefined) {
      const actual = `${parseDigest(layer.blobDigest)?.algorithm ?? 'sha256'}:${fileHash.digest('hex')}`
      if (actual !== layer.blobDigest) throw digestMismatch(label, layer.blobDigest, actual)
    }
    if (tarHash !== undefined && layer.diffId !== undefined) {
      const actual = `${parseDigest(layer.diffId)?.algorithm ?? 'sha256'}:${tarHash.digest('hex')}`
      if (actual !== layer.diffId) throw digestMismatch(`${label}, uncompressed,`, layer.diffId, actual)
    }
  }
}
