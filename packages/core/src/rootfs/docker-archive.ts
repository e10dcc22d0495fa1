/**
 * `docker save` archives: `manifest.json` lists images (`RepoTags`, `Config`, `Layers`).
 * Old archives keep layers as `<id>/layer.tar`, Docker >= 25 as `blobs/sha256/<hex>`.
 * Layers are checked against the config's `rootfs.diff_ids` (sha256 of the uncompressed
 * tar) and, for `blobs/sha256/<hex>` paths, against the blob digest.
 */
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { resolveBlob, verifyBlob } from './image-blobs.js'
import type { ImageLayer, ImagePlan } from './image-blobs.js'
import { imageConfigSchema, readJson } from './image-json.js'
import type { DockerManifest } from './image-json.js'

type DockerImage = DockerManifest[number]

/** `blobs/sha256/<hex>` or `<hex>.json` -> the digest the path promises, if any. */
function digestOfPath (relative: string): string | undefined {
  const blob = /^(?:\.\/)?blobs\/sha256\/([0-9a-f]{64})$/.exec(relative)
  if (blob !== null) return `sha256:${blob[1] as string}`
  const config = /^(?:\.\/)?([0-9a-f]{64})\.json$/.exec(relative)
  if (config !== null) return `sha256:${config[1] as string}`
  return undefined
}

/** Whether `tag` is `imageRef`, allowing an omitted `:latest`. */
function tagMatches (tag: string, imageRef: string): boolean {
  if (tag === imageRef) return true
  const lastSegment = imageRef.slice(imageRef.lastIndexOf('/') + 1)
  return !lastSegment.includes(':') && !imageRef.includes('@') && tag === `${imageRef}:latest`
}

function describe (image: DockerImage): string {
  return image.RepoTags?.join(' ') || `untagged image ${image.Config}`
}

function pickImage (images: DockerManifest, archive: string, imageRef: string | undefined): DockerImage {
  if (imageRef !== undefined) {
    const wanted = images.find((image) => image.RepoTags?.some((tag) => tagMatches(tag, imageRef)) === true)
    if (wanted === undefined) {
      throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
        `${archive} holds no image tagged ${JSON.stringify(imageRef)} (it has: ${images.map(describe).join(', ')}); pass one of those as imageRef (--image-ref)`)
    }
    return wanted
  }
  if (images.length > 1) {
    throw new SandboxError('NSB_INVALID_OPTION',
      `${archive} holds ${images.length} images (${images.map(describe).join(', ')}); pick one with imageRef (--image-ref <repo:tag>)`)
  }
  return images[0] as DockerImage
}

export async function readDockerLayers (outer: string, archive: string, images: DockerManifest, imageRef: string | undefined): Promise<ImagePlan> {
  const image = pickImage(images, archive, imageRef)
  const configLabel = `the image config ${image.Config}`
  const config = await resolveBlob(outer, image.Config, configLabel, archive)
  const configDigest = digestOfPath(path.posix.normalize(image.Config))
  if (configDigest !== undefined) await verifyBlob(config.file, configDigest, `${archive}: ${configLabel}`)
  const diffIds = (await readJson(config.file, `${archive}: ${configLabel}`, imageConfigSchema)).rootfs?.diff_ids
  if (diffIds !== undefined && diffIds.length !== image.Layers.length) {
    throw new SandboxError('NSB_ROOTFS_INVALID',
      `${archive}: manifest.json lists ${image.Layers.length} layers but the image config has ${diffIds.length} diff_ids; the archive is corrupt: re-export it with docker save`)
  }
  const layers: ImageLayer[] = []
  for (const [position, relative] of image.Layers.entries()) {
    const label = `layer ${position + 1} of ${image.Layers.length} (${relative})`
    const blob = await resolveBlob(outer, relative, label, archive)
    const layer: ImageLayer = { file: blob.file, label, size: blob.size }
    const blobDigest = digestOfPath(path.posix.normalize(relative))
    if (blobDigest !== undefined && !relative.endsWith('.json')) layer.blobDigest = blobDigest
    const diffId = diffIds?.[position]
    if (diffId !== undefined) layer.diffId = diffId
    layers.push(layer)
  }
  return { kind: 'docker', picked: imageRef ?? describe(image), layers }
}
