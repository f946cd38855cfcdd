/**
 * A registry password that happens to look like base64 reaches a real registry (docker-registry with htpasswd)
 * as written: the recipe's inline password, resolved by prepareInstall, pulls the manifest where it used to be
 * decoded into garbage and refused with 401.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RegistryClient } from '../../ops/oci/client.ts';
import { prepareInstall } from '../../ops/prepare.ts';
import { parseRecipe } from '../../ops/recipe.ts';
import { skipUnless } from '../helpers/env.ts';
import { pushArtifact, REGISTRY_TOOLS, startRegistry } from '../helpers/registry.ts';

const PASSWORD = 'Passw0rd1234';

test('an inline registry password that looks like base64 authenticates against a real registry', async (t) => {
  if (!skipUnless(t, REGISTRY_TOOLS)) return;
  const work = await mkdtemp(join(tmpdir(), 'shoal-regpw-'));
  const registry = await startRegistry({ auth: { username: 'shoal', password: PASSWORD } });
  try {
    const file = join(work, 'rootfs.tar.gz');
    await writeFile(file, 'not really a rootfs');
    const pushed = await pushArtifact(registry, 'os/tiny:1', file, {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      artifactType: 'application/vnd.shoal.rootfs.tar.gz',
      title: 'rootfs.tar.gz',
    });
    const disk = join(work, 'disk.img');
    await writeFile(disk, '');
    await truncate(disk, 4 * 1024 ** 3);
    const recipe = parseRecipe({
      task_target: 'install-linux.target',
      target_disk: disk,
      oci_url: `${registry.host}/os/tiny:1`,
      partition_layout: [
        { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
        { size: '100%', format: 'ext4', mountpoint: '/' },
      ],
      registry: { username: 'shoal', password: PASSWORD, plain_http: [registry.host] },
    });
    const { plan, inputs } = await prepareInstall(recipe, { machine: { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN' } });
    const client = new RegistryClient({ plainHttp: inputs.plainHttp, username: 'shoal', password: inputs.registryPassword });
    try {
      const resolved = await client.resolve(plan.image!);
      assert.equal(resolved.manifestDigest, pushed.manifestDigest);
    } finally {
      await client.close();
    }
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
});
