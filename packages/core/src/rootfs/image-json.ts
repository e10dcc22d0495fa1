/** The JSON documents of OCI image layouts and `docker save` archives, validated with zod. */
import fs from 'node:fs/promises'
import { z } from 'zod'
import { SandboxError } from '../errors.js'

const MAX_JSON_BYTES = 16 * 1024 * 1024

export const descriptorSchema = z.object({
  mediaType: z.string().optional(),
  digest: z.string(),
  size: z.number().int().nonnegative().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z.object({
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional()
  }).optional()
})
export type Descriptor = z.infer<typeof descriptorSchema>

export const ociIndexSchema = z.object({
  manifests: z.array(descriptorSchema)
})

export const ociManifestSchema = z.object({
  config: descriptorSchema.optional(),
  layers: z.array(descriptorSchema)
})

/** An index (list of manifests) or an image manifest: told apart by their fields. */
export const ociIndexOrManifestSchema = z.union([ociManifestSchema, ociIndexSchema])

export const dockerManifestSchema = z.array(z.object({
  Config: z.string(),
  RepoTags: z.array(z.string()).nullable().optional(),
  Layers: z.array(z.string())
})).min(1)
export type DockerManifest = z.infer<typeof dockerManifestSchema>

export const imageConfigSchema = z.object({
  rootfs: z.object({
    diff_ids: z.array(z.string())
  }).optional()
})

/** Parses `file` (at most 16 MiB) with `schema`; refuses what does not fit with NSB_ROOTFS_INVALID. */
export async function readJson<T> (file: string, label: string, schema: z.ZodType<T>): Promise<T> {
  const stat = await fs.stat(file)
  if (stat.size > MAX_JSON_BYTES) {
    throw new SandboxError('NSB_ROOTFS_INVALID', `${label} is ${stat.size} bytes, more than an image's JSON document can plausibly be; the archive is corrupt: re-export the image`)
  }
  return parseJson(await fs.readFile(file, 'utf8'), label, schema)
}

export function parseJson<T> (text: string, label: string, schema: z.ZodType<T>): T {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new SandboxError('NSB_ROOTFS_INVALID', `${label} is not valid JSON (${(error as Error).message}); the archive is corrupt: re-export the image`, { cause: error })
  }
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`
    throw new SandboxError('NSB_ROOTFS_INVALID', `${label} does not have the expected shape${where}: ${issue?.message ?? 'invalid'}; the archive is corrupt or not an image: re-export the image`)
  }
  return result.data
}

/** Like parseJson, but undefined instead of an error. */
export async function tryReadJson<T> (file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const stat = await fs.lstat(file)
    if (!stat.isFile() || stat.size > MAX_JSON_BYTES) return undefined
    const result = schema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')))
    return result.success ? result.data : undefined
  } catch {
    return undefined
  }
}
