import type { DiskChoice, ImageInfo } from '../../ops/console-session.ts';
import { Recipe, type Payload, type RecipeInput } from '../../ops/recipe.ts';
import { cloneParts, fromSpecs, presetsFor, toSpecs, type OsKind, type PartitionDraft } from './layouts.ts';

export type ScreenId = 'machine' | 'disk' | 'image' | 'layout' | 'settings' | 'review' | 'install' | 'done' | 'failed';

/** The wizard's order; Esc goes one to the left. */
export const WIZARD_SCREENS = ['machine', 'disk', 'image', 'layout', 'settings', 'review', 'install'] as const satisfies readonly ScreenId[];

export const SCREEN_TITLE: Record<ScreenId, string> = {
  machine: 'Machine',
  disk: 'Disk',
  image: 'Image',
  layout: 'Layout',
  settings: 'Settings',
  review: 'Review',
  install: 'Install',
  done: 'Done',
  failed: 'Failed',
};

export interface ImageChoice {
  reference: string;
  os: OsKind;
  info?: ImageInfo;
}

export interface SettingsDraft {
  hostname: string;
  sshKey: string;
  userDataPath: string;
  kernelArgs: string;
  unattendPath: string;
  wimIndex: string;
  /** A recipe's user-data / unattend.xml the technician has not replaced. Never shown, only described. */
  keptUserData?: Payload;
  keptUnattend?: Payload;
}

export interface WizardState {
  screen: ScreenId;
  disk?: DiskChoice;
  image?: ImageChoice;
  layout: PartitionDraft[];
  presetId?: string;
  settings: SettingsDraft;
  /** The recipe the console was opened with: fields the wizard does not edit (env, notes, registry...) are kept. */
  base?: Recipe;
}

export const emptySettings = (): SettingsDraft => ({ hostname: '', sshKey: '', userDataPath: '', kernelArgs: '', unattendPath: '', wimIndex: '1' });

export const initialWizard = (): WizardState => ({ screen: 'machine', layout: [], settings: emptySettings() });

export type WizardAction =
  | { type: 'goto'; screen: ScreenId }
  | { type: 'disk'; disk: DiskChoice }
  | { type: 'image'; image: ImageChoice }
  | { type: 'layout'; layout: PartitionDraft[]; presetId?: string }
  | { type: 'settings'; settings: SettingsDraft }
  | { type: 'setting'; field: SettingsField; value: string }
  | { type: 'recipe'; recipe: Recipe; disk?: DiskChoice };

export function wizardReducer(state: WizardState, action: WizardAction): WizardState {
  switch (action.type) {
    case 'goto':
      return { ...state, screen: action.screen };
    case 'disk':
      return { ...state, disk: action.disk };
    case 'image': {
      const osChanged = state.image?.os !== action.image.os;
      // A layout made for the other OS does not fit this image: start again from its first preset.
      const preset = presetsFor(action.image.os)[0]!;
      return osChanged || !state.layout.length ? { ...state, image: action.image, layout: cloneParts(preset.parts), presetId: preset.id } : { ...state, image: action.image };
    }
    case 'layout':
      return { ...state, layout: action.layout, presetId: action.presetId };
    case 'settings':
      return { ...state, settings: action.settings };
    case 'setting':
      return { ...state, settings: { ...state.settings, [action.field]: action.value } };
    case 'recipe':
      return fromRecipe(action.recipe, action.disk);
  }
}

/** Open a recipe at Review with every choice filled in. */
export function fromRecipe(recipe: Recipe, disk?: DiskChoice): WizardState {
  const os: OsKind = recipe.task_target === 'install-windows.target' ? 'windows' : 'linux';
  const pathOf = (p: Payload | undefined) => (p && typeof p === 'object' && 'path' in p ? p.path : '');
  return {
    screen: 'review',
    disk,
    image: recipe.oci_url ? { reference: recipe.oci_url, os } : undefined,
    layout: fromSpecs(recipe.partition_layout),
    settings: {
      hostname: recipe.hostname ?? '',
      sshKey: '',
      userDataPath: pathOf(recipe.user_data),
      kernelArgs: recipe.kernel_args ?? '',
      unattendPath: pathOf(recipe.unattend_xml),
      wimIndex: String(recipe.wim_index ?? 1),
      keptUserData: pathOf(recipe.user_data) ? undefined : recipe.user_data,
      keptUnattend: pathOf(recipe.unattend_xml) ? undefined : recipe.unattend_xml,
    },
    base: recipe,
  };
}

/** cloud-config that installs one SSH public key for the image's default user. */
export const sshUserData = (key: string) => `#cloud-config\nssh_authorized_keys:\n  - ${key.trim()}\n`;

const SSH_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;

export type SettingsField = 'hostname' | 'sshKey' | 'userDataPath' | 'kernelArgs' | 'unattendPath' | 'wimIndex';

export const settingsFields = (os: OsKind): SettingsField[] => (os === 'windows' ? ['hostname', 'unattendPath', 'wimIndex'] : ['hostname', 'sshKey', 'userDataPath', 'kernelArgs']);

/** Problems with the settings as typed, by field (the recipe schema's own rules where it has them). */
export function settingsProblems(s: SettingsDraft, os: OsKind): Partial<Record<SettingsField, string>> {
  const out: Partial<Record<SettingsField, string>> = {};
  if (s.hostname.trim()) {
    const r = Recipe.shape.hostname.safeParse(s.hostname.trim());
    if (!r.success) out.hostname = 'a DNS host name: letters, digits, "-" and "."';
  }
  if (os === 'linux') {
    if (s.sshKey.trim() && !SSH_KEY.test(s.sshKey.trim())) out.sshKey = 'an OpenSSH public key line: "ssh-ed25519 AAAA... comment"';
    if (s.sshKey.trim() && s.userDataPath.trim()) out.userDataPath = 'give an SSH key or a user-data file, not both';
    if (s.userDataPath.trim() && !s.userDataPath.trim().startsWith('/')) out.userDataPath = 'an absolute path, like /run/media/user-data';
  } else {
    if (s.unattendPath.trim() && !s.unattendPath.trim().startsWith('/')) out.unattendPath = 'an absolute path, like /run/media/unattend.xml';
    if (!/^[1-9][0-9]*$/.test(s.wimIndex.trim())) out.wimIndex = 'a number from 1';
  }
  return out;
}

/** What the user-data will be, in words (its content is a secret and never shown). */
export function userDataSummary(s: SettingsDraft): string {
  if (s.userDataPath.trim()) return `the file ${s.userDataPath.trim()}`;
  if (s.sshKey.trim()) return 'cloud-config with this SSH key';
  if (s.keptUserData !== undefined) {
    if (typeof s.keptUserData === 'string') return `the recipe's, inline (${Buffer.byteLength(s.keptUserData)} bytes)`;
    if ('content' in s.keptUserData) return `the recipe's, inline (${Buffer.byteLength(s.keptUserData.content)} bytes)`;
    if ('url' in s.keptUserData) return `the recipe's, fetched from ${new URL(s.keptUserData.url).host}`;
  }
  return 'none (an empty cloud-config)';
}

/** The recipe these choices stand for: the same object `--recipe` would give the engine. */
export function toRecipe(state: WizardState): RecipeInput | undefined {
  if (!state.disk || !state.image) return undefined;
  const s = state.settings;
  const windows = state.image.os === 'windows';
  const base: Partial<Recipe> = { ...(state.base ?? {}) };
  for (const k of ['user_data', 'unattend_xml', 'hostname', 'kernel_args', 'wim_index'] as const) delete base[k];
  const userData: Payload | undefined = s.userDataPath.trim() ? { path: s.userDataPath.trim() } : s.sshKey.trim() ? { content: sshUserData(s.sshKey) } : s.keptUserData;
  const unattend: Payload | undefined = s.unattendPath.trim() ? { path: s.unattendPath.trim() } : s.keptUnattend;
  return {
    ...base,
    schema_version: base.schema_version ?? '1',
    task_target: windows ? 'install-windows.target' : 'install-linux.target',
    target_disk: state.disk.facts.path,
    oci_url: state.image.reference,
    partition_layout: toSpecs(state.layout),
    ...(s.hostname.trim() ? { hostname: s.hostname.trim() } : {}),
    ...(!windows && s.kernelArgs.trim() ? { kernel_args: s.kernelArgs.trim() } : {}),
    ...(!windows && userData !== undefined ? { user_data: userData } : {}),
    ...(windows && unattend !== undefined ? { unattend_xml: unattend } : {}),
    ...(windows ? { wim_index: Number(s.wimIndex) || 1 } : {}),
  };
}
