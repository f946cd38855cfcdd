// What container build tools leave in an image that a booted system must not keep. buildah, podman and docker
// bind-mount the build host's /etc/hosts, /etc/resolv.conf and /etc/hostname into every RUN step, and the layer the
// step writes carries them as empty placeholder files over the base image's real ones. Markers of a container
// (/.dockerenv, /run/.containerenv) make systemd believe it runs in one. Applied per layer: the content of the
// layer below is remembered after each layer, so that a placeholder can be given it back.
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileInRoot, resolveInRoot, writeFileInRoot } from '../in-root.ts';
import type { StepContext } from '../runner.ts';

export const PLACEHOLDERS = ['etc/hosts', 'etc/resolv.conf', 'etc/hostname'];
export const CONTAINER_MARKERS = ['.dockerenv', '.containerenv', 'run/.containerenv'];
export const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
const MAX_KEPT = 64 * 1024;

type Log = StepContext['log'];

/** The leaf of an image path, its directory resolved within the root; the leaf itself not followed. */
async function leafOf(root: string, path: string) {
  const slash = path.lastIndexOf('/');
  try {
    const dir = await resolveInRoot(root, path.slice(0, Math.max(0, slash)));
    const host = join(dir, path.slice(slash + 1));
    return { host, st: await lstat(host) };
  } catch {
    return undefined;
  }
}

/** A regular file's content (a link, a directory or a missing file: undefined: the image meant those). */
async function regularContent(root: string, path: string): Promise<Buffer | undefined> {
  const leaf = await leafOf(root, path);
  if (!leaf?.st.isFile() || leaf.st.size > MAX_KEPT) return undefined;
  return readFileInRoot(root, path, MAX_KEPT);
}

export class BuilderLeftovers {
  private readonly below = new Map<string, Buffer>();

  constructor(
    private readonly root: string,
    private readonly log: Log,
  ) {}

  /** After layer `index`: placeholders it left empty get the content of the layers below back; the rest is remembered. */
  async afterLayer(index: number): Promise<void> {
    for (const path of PLACEHOLDERS) {
      const content = await regularContent(this.root, path);
      if (content === undefined) {
        this.below.delete(path);
        continue;
      }
      const kept = this.below.get(path);
      if (content.length === 0 && kept) {
        await writeFileInRoot(this.root, path, kept, { log: this.log });
        this.log(
          `/${path}: layer ${index + 1} left it empty (a build tool's placeholder for the file it bind-mounts in RUN steps); restored the ${kept.length} bytes of the layer below`,
          'warn',
        );
        continue;
      }
      if (content.length > 0) this.below.set(path, content);
    }
  }

  /** Once every layer is down: a sane /etc/hosts where it is still empty, container markers removed. */
  async finish(): Promise<void> {
    const hosts = await regularContent(this.root, 'etc/hosts');
    if (hosts?.length === 0) {
      await writeFileInRoot(this.root, 'etc/hosts', DEFAULT_HOSTS, { log: this.log });
      this.log("/etc/hosts was empty in every layer (a build tool's placeholder): wrote the localhost entries", 'warn');
    }
    for (const path of ['etc/resolv.conf', 'etc/hostname']) {
      if ((await regularContent(this.root, path))?.length === 0) {
        this.log(
          `/${path} is empty (a build tool's placeholder); left so: ${path.endsWith('hostname') ? "cloud-init or the recipe's hostname sets it" : 'the network configuration fills it at boot'}`,
        );
      }
    }
    for (const path of CONTAINER_MARKERS) {
      const leaf = await leafOf(this.root, path);
      if (!leaf || leaf.st.isDirectory()) continue;
      await rm(leaf.host, { force: true });
      this.log(`/${path}: removed (a container marker a build tool left; systemd would take the installed system for a container)`, 'warn');
    }
  }
}
