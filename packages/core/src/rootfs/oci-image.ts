/**
 * OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): index -> manifest
 * -> layers. The manifest is picked by `imageRef` (the `org.opencontainers.image.ref.name`
 * or `io.containerd.image.name` annotation) and by platform (linux + this CPU); nested
 * indexes (multi-platform images) are followed. Every JSON blob is checked against its
 * digest here; layer blobs are checked while they are applied.
 */
import path from 'node:path'
import { SandboxError } from '../errors.js'
import { blobPath, resolveBlob, verifyBlob } from './image-blobs.js'
import type { ImageLayer, ImagePlan } from './image-blobs.js'
import { ociIndexOrManifestSchema, ociIndexSchema, readJson } from './image-json.js'
import type { Descriptor } from './image-json.js'

const REF_ANNOTATIONS = ['org.opencontainers.image.ref.name', 'io.containerd.image.name']
const MAX_INDEX_DEPTH = 4

/** Node's `process.arch` -> the OCI / Go architecture name. */
export function ociArchitecture (arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' }
  return names[arch] ?? arch
}

function describe (descriptor: Descriptor): string {
  const refs = REF_ANNOTATIONS.map((key) => descriptor.annotations?.[key]).filter((value) => value !== undefined)
  const platform = descriptor.platform === undefined ? '' : ` for ${descriptor.platform.os}/${descriptor.platform.architecture}`
  return `${refs[0] ?? `manifest ${descriptor.digest.slice(0, 19)}`}${platform}`
}

function isAttestation (descriptor: Descriptor): boolean {
  return descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown')
}

function fitsPlatform (descriptor: Descriptor): boolean {
  if (descriptor.platform === undefined) return true
  return descriptor.platform.os === 'linux' && descriptor.platform.architecture === ociArchitecture()
}

export async function readOciLayers (outer: string, archive: string, imageRef: string | undefined): Promise<ImagePlan> {
  const index = await readJson(path.join(outer, 'index.json'), `${archive}: index.json`, ociIndexSchema)
  let candidates = index.manifests.filter((descriptor) => !isAttestation(descriptor))
  if (imageRef !== undefined) {
    const wanted = candidates.filter((descriptor) => REF_ANNOTATIONS.some((key) => descriptor.annotations?.[key] === imageRef))
    if (wanted.length === 0) {
      throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
        `${archive} holds no image named ${JSON.stringify(imageRef)} (it has: ${candidates.map(describe).join(', ') || 'none'}); pass one of those as imageRef (--image-ref)`)
    }
    candidates = wanted
  }
  return await pick(outer, archive, candidates, imageRef, 0)
}

async function pick (outer: string, archive: string, descriptors: Descriptor[], imageRef: string | undefined, depth: number): Promise<ImagePlan> {
  if (depth > MAX_INDEX_DEPTH) {
    throw new SandboxError('NSB_ROOTFS_INVALID', `${archive}: image indexes are nested more than ${MAX_INDEX_DEPTH} deep; the image is corrupt: re-export it`)
  }
  let candidates = descriptors
  if (candidates.length > 1) {
    const fitting = candidates.filter(fitsPlatform)
    if (fitting.length === 0) {
      throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
        `${archive} has no image for linux/${ociArchitecture()} (it has: ${candidates.map(describe).join(', ')}); export the image for this platform`)
    }
    candidates = fitting
  }
  if (candidates.length === 0) {
    throw new SandboxError('NSB_ROOTFS_INVALID', `${archive}: the OCI index lists no image manifest; the image is corrupt: re-export it`)
  }
  if (candidates.length > 1) {
    throw new SandboxError('NSB_INVALID_OPTION',
      `${archive} holds ${candidates.length} images (${candidates.map(describe).join(', ')}); pick one with imageRef (--image-ref <ref.name annotation>)`)
  }
  const descriptor = candidates[0] as Descriptor
  if (descriptor.platform !== undefined && !fitsPlatform(descriptor)) {
    throw new SandboxError('NSB_ROOTFS_NOT_FOUND',
      `${archive}: its image is for ${descriptor.platform.os}/${descriptor.platform.architecture}, not linux/${ociArchitecture()}; export the image for this platform`)
  }
  const label = `the manifest ${descriptor.digest}`
  const { file } = await resolveBlob(outer, blobPath(descriptor.digest, label, archive), label, archive)
  await verifyBlob(file, descriptor.digest, `${archive}: ${label}`)
  const document = await readJson(file, `${archive}: ${label}`, ociIndexOrManifestSchema)
  if ('manifests' in document) {
    return await pick(outer, archive, document.manifests.filter((item) => !isAttestation(item)), imageRef, depth + 1)
  }
  const layers: ImageLayer[] = []
  for (const [position, layer] of document.layers.entries()) {
    const layerLabel = `layer ${position + 1} of ${document.layers.length} (${layer.digest})`
    const blob = await resolveBlob(outer, blobPath(layer.digest, layerLabel, archive), layerLabel, archive)
    layers.push({ file: blob.file, label: layerLabel, size: blob.size, blobDigest: layer.digest })
  }
  return { kind: 'oci', picked: imageRef ?? describe(descriptor), layers }
}
