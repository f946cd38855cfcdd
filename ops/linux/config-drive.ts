import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Plan } from '../plan.ts';
import type { StepImpl } from '../runner.ts';
import { mountTarget } from './mounts.ts';

/** DNS-safe form of the serial for a default host name. */
const hostFromSerial = (serial: string) => `shoal-${serial.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'unknown'}`;

export function renderMetaData(plan: Plan): string {
  const serial = plan.machine.serial;
  const host = plan.recipe.hostname ?? hostFromSerial(serial);
  // A DMI serial can hold anything (spaces, `:`, `#`); meta-data is YAML, so keep to characters YAML leaves alone.
  return `instance-id: iid-${serial.replace(/[^A-Za-z0-9._-]+/g, '-')}\nlocal-hostname: ${host}\n`;
}

const describe = (name: string, bytes: Buffer) => `${name}: ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;

export const configDriveStep: StepImpl = {
  title: 'Write the cloud-init NoCloud seed',
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
    const seed = join(await mountTarget(ctx), 'var/lib/cloud/seed/nocloud');
    await mkdir(seed, { recursive: true, mode: 0o700 });
    await writeFile(join(seed, 'user-data'), userData, { mode: 0o600 });
    await writeFile(join(seed, 'meta-data'), metaData, { mode: 0o600 });
    ctx.log(`NoCloud seed written to /var/lib/cloud/seed/nocloud in the installed system`);
  },
};
