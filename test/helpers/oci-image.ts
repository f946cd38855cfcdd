/**
 * Container images the way builders push them: an OCI layout (image config, several layers, optionally an index
 * of platforms) written by hand and copied into the test registry with skopeo, so the registry holds exactly our
 * bytes. Layers are tar files the test makes (GNU tar from a directory, with whiteout files in it).
 */
import { shBytes } from './disk.ts';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestRegistry } from './registry.ts';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export const LAYER_MEDIA_TYPE: Record<LayerCompression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

const COMPRESS: Record<LayerCompression, string> = { gzip: 'pigz -c', zstd: 'zstd -q -c', none: 'cat' };

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface ImageSpec {
  /** Uncompressed layer tarballs, bottom first, each with the compression it is pushed with. */
  layers: { tar: string; compression: LayerCompression }[];
  architecture?: string;
  variant?: string;
  labels?: Record<string, string>;
}

export interface PushedImage {
  manifestDigest: string;
  layerDigests: string[];
}

/** A tar of `dir`'s contents (or of `members` in it) as builders write layers: paths `./...`, numeric owners, xattrs. */
export function layerTar(dir: string, out: string, members = '.'): string {
  shBytes(`tar --create --numeric-owner --xattrs --xattrs-include='*' -C ${dir} -f ${out} ${members}`);
  return out;
}

async function writeBlob(blobs: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  await writeFile(join(blobs, digest.slice(7)), bytes);
  return { digest, size: bytes.length };
}

async function writeImage(blobs: string, spec: ImageSpec): Promise<{ manifest: Buffer; layerDigests: string[] }> {
  const layers = [];
  const diffIds = [];
  for (const layer of spec.layers) {
    const tar = await readFile(layer.tar);
    diffIds.push(sha256(tar));
    const packed = layer.compression === 'none' ? tar : shBytes(`${COMPRESS[layer.compression]} < ${layer.tar}`);
    layers.push({ mediaType: LAYER_MEDIA_TYPE[layer.compression], ...(await writeBlob(blobs, packed)) });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      ...(spec.variant ? { variant: spec.variant } : {}),
      os: 'linux',
      config: { Labels: spec.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configBlob = await writeBlob(blobs, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers,
    }),
  );
  await writeBlob(blobs, manifest);
  return { manifest, layerDigests: layers.map((l) => l.digest) };
}

async function copyLayout(registry: TestRegistry, layout: string, tag: string, refTag: string, all: boolean) {
  const creds = registry.auth ? ['--dest-creds', `${registry.auth.username}:${registry.auth.password}`] : [];
  await execa('skopeo', [
    '--insecure-policy',
    'copy',
    '--quiet',
    '--preserve-digests',
    ...(all ? ['--all'] : []),
    '--dest-tls-verify=false',
    ...creds,
    `oci:${layout}:${tag}`,
    `docker://${registry.host}/${refTag}`,
  ]);
}

async function layoutDir(registry: TestRegistry): Promise<{ layout: string; blobs: string }> {
  const layout = await mkdtemp(join(registry.dir, 'image-layout-'));
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { layout, blobs };
}

const tagOf = (refTag: string) => refTag.slice(refTag.lastIndexOf(':') + 1);

/** Pushes a container image of several layers as `repo:tag`. */
export async function pushImage(registry: TestRegistry, refTag: string, spec: ImageSpec): Promise<PushedImage> {
  const { layout, blobs } = await layoutDir(registry);
  try {
    const { manifest, layerDigests } = await writeImage(blobs, spec);
    const tag = tagOf(refTag);
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
        ],
      }),
    );
    await copyLayout(registry, layout, tag, refTag, false);
    return { manifestDigest: sha256(manifest), layerDigests };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

/** Pushes an OCI index with one image per platform (`linux/amd64`, `linux/arm64/v8`...) as `repo:tag`. */
export async function pushIndex(registry: TestRegistry, refTag: string, images: ImageSpec[]): Promise<{ indexDigest: string; manifestDigests: string[] }> {
  const { layout, blobs } = await layoutDir(registry);
  try {
    const entries = [];
    for (const spec of images) {
      const { manifest } = await writeImage(blobs, spec);
      entries.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        platform: { os: 'linux', architecture: spec.architecture ?? 'amd64', ...(spec.variant ? { variant: spec.variant } : {}) },
      });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
    const { digest } = await writeBlob(blobs, index);
    const tag = tagOf(refTag);
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
      }),
    );
    await copyLayout(registry, layout, tag, refTag, true);
    return { indexDigest: digest, manifestDigests: entries.map((e) => e.digest) };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
