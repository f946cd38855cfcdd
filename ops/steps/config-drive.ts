// config-drive.service: cloud-init's NoCloud seed (user-data, meta-data), written with mtools onto a cidata
// partition, or else into the installed system's /var/lib/cloud/seed/nocloud.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Plan } from '../plan.ts';
import { isConfigDrive, isWindows, type Recipe } from '../recipe.ts';
import { inImage, mkdirInRoot, writeFileInRoot } from '../in-root.ts';
import { mountTarget } from '../linux/mounts.ts';
import type { Step } from './step.ts';

/** DNS-safe form of the serial for a default host name. */
const hostFromSerial = (serial: string) =>
  `shoal-${
    serial
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'unknown'
  }`;

export function renderMetaData(plan: Plan): string {
  const serial = plan.machine.serial;
  const host = plan.recipe.hostname ?? hostFromSerial(serial);
  // A DMI serial can hold anything (spaces, `:`, `#`); meta-data is YAML, so keep to characters YAML leaves alone.
  return `instance-id: iid-${serial.replace(/[^A-Za-z0-9._-]+/g, '-')}\nlocal-hostname: ${host}\n`;
}

const describe = (name: string, bytes: Buffer) => `${name}: ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;

export const configDriveStep: Step<'config-drive.service'> = {
  name: 'config-drive.service',
  title: 'Write the cloud-init NoCloud seed',
  /** A Linux install with user-data to hand over, or a cidata partition to fill. */
  wanted: (recipe: Recipe) => !isWindows(recipe) && (recipe.user_data !== undefined || recipe.partition_layout.some(isConfigDrive)),
  resumable: true,
  async run(ctx) {
    const userData = ctx.inputs.userData ?? Buffer.from('#cloud-config\n{}\n');
    const metaData = Buffer.from(renderMetaData(ctx.plan));
    ctx.log(describe('user-data', userData));
    const drive = ctx.plan.partitions.find((p) => p.role === 'cidata');
    if (drive) {
      // mtools writes the FAT volume without mounting it, which works on any kernel.
      const dir = await mkdtemp(join(tmpdir(), 'shoal-cidata-'));
      try {
        await chmod(dir, 0o700);
        await writeFile(join(dir, 'user-data'), userData, { mode: 0o600 });
        await writeFile(join(dir, 'meta-data'), metaData, { mode: 0o600 });
        const dev = ctx.state.partitionDevices[drive.number]!;
        await ctx.exec(['mcopy', '-o', '-i', dev, join(dir, 'user-data'), join(dir, 'meta-data'), '::/'], { env: { MTOOLS_SKIP_CHECK: '1' } });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return;
    }
    const root = await mountTarget(ctx);
    const seed = inImage(root, await mkdirInRoot(root, 'var/lib/cloud/seed/nocloud', 0o700));
    await writeFileInRoot(root, `${seed}/user-data`, userData, { mode: 0o600, log: ctx.log });
    await writeFileInRoot(root, `${seed}/meta-data`, metaData, { mode: 0o600, log: ctx.log });
    ctx.log(`NoCloud seed written to ${seed} in the installed system`);
  },
};
