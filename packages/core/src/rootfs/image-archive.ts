/**
 * Image archives (OCI layout or `docker save`) are recognised after their outer tar was
 * unpacked; their layers are then applied in order onto a fresh tree, with whiteouts,
 * and each layer is checked against its digest as it streams.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
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

function algorithmOf (digest: string | undefined): 'sha256' | 'sha512' | undefined {
  return digest === undefined ? undefined : parseDigest(digest)?.algorithm
}

export async function applyLayers (plan: ImagePlan, options: ApplyLayersOptions): Promise<void> {
  for (const layer of plan.layers) {
    const label = `${options.archive}: ${layer.label}`
    const { compression } = await sniffArchive(layer.file, label)
    const fileHash = algorithmOf(layer.blobDigest)
    const tarHash = algorithmOf(layer.diffId)
    const result = await withTarStream(layer.file, {
      archive: label,
      compression,
      budget: options.budget,
      ...(options.onBytes === undefined ? {} : { onBytes: options.onBytes }),
      ...(fileHash === undefined ? {} : { fileHash }),
      ...(tarHash === undefined ? {} : { tarHash })
    }, async (tar) => {
      await extractTar(tar, {
        archive: label,
        writer: options.writer,
        budget: options.budget,
        warnings: options.warnings,
        allowSetuid: options.allowSetuid,
        layer: true
      })
    })
    if (layer.blobDigest !== undefined && result.fileDigest !== layer.blobDigest) {
      throw digestMismatch(label, layer.blobDigest, result.fileDigest ?? 'an unknown digest')
    }
    if (layer.diffId !== undefined && result.tarDigest !== layer.diffId) {
      throw digestMismatch(`${label}, uncompressed,`, layer.diffId, result.tarDigest ?? 'an unknown digest')
    }
  }
}
