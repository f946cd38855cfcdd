import { z } from 'zod';
import { DiskHints, hasCriterion } from './disk-hints.ts';
import { typeGuid } from './gpt-types.ts';
import { sizeProblem } from './sizes.ts';

/** A file-ish value: inline text (maybe base64), inline content, a URL to fetch, or a path in the maintenance OS. */
export const Payload = z.union([
  z.string(),
  z.strictObject({ content: z.string() }),
  z.strictObject({ url: z.url({ protocol: /^https?$/ }) }),
  z.strictObject({ path: z.string().startsWith('/', 'must be an absolute path') }),
]);
export type Payload = z.infer<typeof Payload>;

export const FORMATS = ['vfat', 'ext4', 'xfs', 'ntfs', 'swap', 'raw', 'none', 'btrfs'] as const;
export const Format = z.enum(FORMATS);
export type Format = z.infer<typeof Format>;

// `..` would mount a partition outside the target, and `/./var` is `/var` under another name (two partitions on one
// directory): only the one spelling of each directory is accepted.
const isMountpoint = (p: string) =>
  p === '/' ||
  (p.startsWith('/') &&
    p
      .slice(1)
      .split('/')
      .every((c) => c !== '' && c !== '.' && c !== '..' && !/\s/.test(c)));

const SHORT_TYPE = /^[0-9a-fA-F]{4}$/;
const FULL_GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const PartitionSpec = z.strictObject({
  size: z.string().superRefine((v, ctx) => {
    const problem = sizeProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  type_guid: z
    .string()
    .refine((v) => SHORT_TYPE.test(v) || FULL_GUID.test(v), 'an sgdisk type code like ef00 or a full GPT type GUID')
    .refine((v) => !SHORT_TYPE.test(v) || typeGuid(v) !== undefined, 'not a type code sgdisk knows (sgdisk -L lists them): give the full GPT type GUID')
    .optional(),
  format: Format.default('none'),
  label: z.string().max(32).optional(),
  mountpoint: z.string().refine(isMountpoint, 'a normalised absolute path like / or /boot/efi: no spaces, no trailing slash, no empty, "." or ".." component').optional(),
  bootable: z.boolean().optional(),
});
export type PartitionSpec = z.infer<typeof PartitionSpec>;

/** Our optional extensions: registry trust and credentials, installed kernel args, hostname. */
export const RegistryOptions = z.strictObject({
  plain_http: z.array(z.string().min(1)).optional(),
  ca_file: z.string().startsWith('/').optional(),
  username: z.string().optional(),
  password: Payload.optional(),
  // Pull-through caches tried before the origin for everything fetched by digest (README "Registry mirrors").
  mirrors: z
    .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/, 'HOST or HOST:PORT (no scheme, no path)'))
    .max(8, 'at most 8 mirrors')
    .optional(),
  // Patience (README "Registry patience"): a transfer below low_speed_limit KiB/s for low_speed_time s is stalled
  // and reconnected; `retries` failed attempts without real progress end the pull; busy answers get busy_patience s.
  low_speed_limit: z
    .int()
    .min(0)
    .max(1024 * 1024)
    .optional(),
  low_speed_time: z.int().min(1).max(3600).optional(),
  retries: z.int().min(1).max(100).optional(),
  busy_patience: z.int().min(0).max(86_400).optional(),
});
export type RegistryOptions = z.infer<typeof RegistryOptions>;

export const TASK_TARGETS = ['install-linux.target', 'install-windows.target'] as const;

/**
 * What may be on the disk before it is erased (README "Choosing the disk"): `any` (the default, as without the
 * field), `empty-or-same` (nothing, or the OS being installed), `empty` (nothing at all).
 */
export const WIPE_GUARDS = ['any', 'empty-or-same', 'empty'] as const;

export const Recipe = z
  .strictObject({
    schema_version: z
      .string()
      .regex(/^1(\.[0-9]+)?$/, 'schema version "1" or "1.x"')
      .default('1'),
    task_target: z
      .string()
      .regex(/\.target$/, 'a systemd target name ending in .target')
      .refine((t) => (TASK_TARGETS as readonly string[]).includes(t), {
        message: `one of ${TASK_TARGETS.join(', ')} (this installer does not handle other targets yet)`,
      }),
    // Required unless target_disk_hints choose the disk (checked below, so that its absence is named as before).
    target_disk: z.string().startsWith('/', 'an absolute device path like /dev/sda, /dev/disk/by-id/..., or a disk image file').optional(),
    target_disk_hints: DiskHints.refine(hasCriterion, 'at least one criterion (serial, wwn, model, vendor, size, rotational, transport, hctl, by_path, name)').optional(),
    wipe: z.enum(WIPE_GUARDS).optional(),
    oci_url: z.string().min(1).optional(),
    partition_layout: z.array(PartitionSpec).min(1, 'at least one partition'),
    user_data: Payload.optional(),
    unattend_xml: Payload.optional(),
    wim_index: z.int().min(1).default(1),
    'ks.cfg': Payload.optional(),
    firmware_url: z.url().optional(),
    env: z.record(z.string(), z.string()).optional(),
    notes: z.string().max(2000).optional(),
    // /etc/default/grub is shell that grub-mkconfig sources: nothing here may quote, expand or break a line.
    kernel_args: z
      .string()
      .regex(/^[^"'`$\\\n\r;&|<>]*$/, 'kernel arguments without quotes, $, `, \\, ;, &, |, <, > or line breaks')
      .optional(),
    hostname: z
      .string()
      .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/, 'a DNS host name')
      .optional(),
    registry: RegistryOptions.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.target_disk === undefined && r.target_disk_hints === undefined) {
      ctx.addIssue({ code: 'custom', path: ['target_disk'], message: 'required (a device like /dev/sda or /dev/disk/by-id/..., or give target_disk_hints)' });
    }
  });
export type Recipe = z.infer<typeof Recipe>;
export type RecipeInput = z.input<typeof Recipe>;

export class RecipeError extends Error {
  constructor(readonly problems: string[]) {
    super(`the recipe is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RecipeError';
  }
}

function jsonPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${String(key)}`), '$');
}

/** Parse a recipe object, with every problem named by its JSON path. */
export function parseRecipe(input: unknown): Recipe {
  const result = Recipe.safeParse(input);
  if (!result.success) {
    throw new RecipeError(result.error.issues.map((i) => `${jsonPath(i.path)}: ${i.message}`));
  }
  return result.data;
}

export function parseRecipeText(text: string, source = 'recipe'): Recipe {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new RecipeError([`${source} is not JSON: ${(e as Error).message}`]);
  }
  return parseRecipe(data);
}

export const isWindows = (r: Recipe) => r.task_target === 'install-windows.target';

/** The cloud-init NoCloud config drive: a vfat partition labelled cidata, any case. */
export const isConfigDrive = (p: PartitionSpec) => p.format === 'vfat' && p.label?.toLowerCase() === 'cidata';
