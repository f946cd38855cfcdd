/**
 * The Debian fixture as a container image of three layers, the way a Containerfile builds one: the base system
 * without its kernel, a layer that deletes and replaces files with whiteouts (one opaque directory among them),
 * and a layer that adds the kernel (/boot and /usr/lib/modules). Each layer has its own compression. The installed
 * system's first boot prints what the layers did (LAYERS_RUNCMD), checked against LAYERS_SEEN.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { layerTar, pushImage, type ImageSpec, type PushedImage } from '../../helpers/oci-image.ts';
import type { TestRegistry } from '../../helpers/registry.ts';
import { cached } from './cache.ts';
import { progress } from './log.ts';
import { sh } from './sh.ts';

/** Bump when the layers change: part of the cache key. */
const LAYERS_VERSION = 1;

/** In the fixture; whited out by layer 2. */
const WHITED_OUT = 'etc/motd';
/** In the fixture with 10-uname; layer 2 makes it opaque and puts its own script there. */
const OPAQUE_DIR = 'etc/update-motd.d';
const OPAQUE_NEW = '50-shoal-layers';
/** In the fixture; layer 2 gives it new content. */
const REPLACED = 'etc/issue';
const REPLACED_CONTENT = 'Shoal layered fixture: layer 2 of 3 replaced this file';
/** Layer 3's: the kernel, its initramfs and modules. */
const KERNEL_PATHS = ['./boot', './usr/lib/modules'];

/**
 * The three layers' tar files (uncompressed, as ImageSpec takes them), cut from the fixture tarball and cached
 * beside it. Member lists name paths below the root only: a layer's `./` entry would set the target root's mode.
 */
async function fixtureLayerTars(fixture: string): Promise<string[]> {
  const dir = await cached('fixture-layers', { fixture: basename(dirname(fixture)), version: LAYERS_VERSION }, async (tmp) => {
    const root = join(tmp, 'root');
    await mkdir(root);
    await sh(['bash', '-o', 'pipefail', '-c', 'zstd -dc "$1" | tar --numeric-owner --xattrs --xattrs-include="*" --acls -x -C "$2"', 'unpack', fixture, root]);
    // The base: every top-level entry but ./boot, and nothing of ./usr/lib/modules.
    const top = (await sh(['find', root, '-mindepth', '1', '-maxdepth', '1', '-printf', './%P\\n'])).trim().split('\n');
    await sh([
      'tar',
      '--numeric-owner',
      '--xattrs',
      '--xattrs-include=*',
      '--acls',
      '--anchored',
      ...KERNEL_PATHS.map((p) => `--exclude=${p}`),
      '-C',
      root,
      '-c',
      '-f',
      join(tmp, 'layer1.tar'),
      ...top.filter((m) => !KERNEL_PATHS.includes(m)),
    ]);
    layerTar(root, join(tmp, 'layer3.tar'), KERNEL_PATHS.join(' '));

    const changes = join(tmp, 'changes');
    await mkdir(join(changes, OPAQUE_DIR), { recursive: true, mode: 0o755 });
    await chmod(join(changes, dirname(OPAQUE_DIR)), 0o755);
    await writeFile(join(changes, dirname(WHITED_OUT), `.wh.${basename(WHITED_OUT)}`), '');
    await writeFile(join(changes, OPAQUE_DIR, '.wh..wh..opq'), '');
    await writeFile(join(changes, OPAQUE_DIR, OPAQUE_NEW), '#!/bin/sh\necho "installed from a layered image"\n', { mode: 0o755 });
    await writeFile(join(changes, REPLACED), `${REPLACED_CONTENT}\n`, { mode: 0o644 });
    layerTar(changes, join(tmp, 'layer2.tar'), './etc');
    await rm(root, { recursive: true });
    await rm(changes, { recursive: true });
  });
  return [1, 2, 3].map((n) => join(dir, `layer${n}.tar`));
}

/** Pushes the layered fixture as `refTag` (repo:tag): gzip base, uncompressed whiteout layer, zstd kernel layer. */
export async function pushFixtureLayers(registry: TestRegistry, refTag: string, fixture: string): Promise<PushedImage> {
  const [base, changes, kernel] = await fixtureLayerTars(fixture);
  const spec: ImageSpec = {
    layers: [
      { tar: base!, compression: 'gzip' },
      { tar: changes!, compression: 'none' },
      { tar: kernel!, compression: 'zstd' },
    ],
    labels: { 'org.opencontainers.image.title': 'shoal-install VM test: the Debian fixture in three layers' },
  };
  const pushed = await pushImage(registry, refTag, spec);
  progress(`pushed ${refTag}: ${pushed.manifestDigest}, layers ${pushed.layerDigests.join(' ')}`);
  return pushed;
}

/** cloud-init runcmd for the installed system's first boot: one line on the serial console saying what the layers did. */
export const LAYERS_RUNCMD = `[ sh, -c, 'echo "SHOAL-LAYERS ${WHITED_OUT}=$(test -e /${WHITED_OUT} && echo present || echo absent) ${OPAQUE_DIR}=$(ls -A /${OPAQUE_DIR} | paste -sd+ -) ${REPLACED}=$(cat /${REPLACED})" > /dev/ttyS0' ]`;

/** The line LAYERS_RUNCMD prints when every layer was applied by the rules: the whited-out file gone, only layer 2's file in the opaque directory, the replaced file's new content. */
export const LAYERS_SEEN = `SHOAL-LAYERS ${WHITED_OUT}=absent ${OPAQUE_DIR}=${OPAQUE_NEW} ${REPLACED}=${REPLACED_CONTENT}`;
