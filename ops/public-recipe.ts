/**
 * The recipe as the plan holds it, and so as every face shows it (`plan`, `plan --json`, the console, the log):
 * secrets replaced by where they come from, and documents by their size and a sha256 prefix. Steps read the
 * secrets themselves from the install's resolved inputs, never from the plan.
 */
import { describeSummary, summarizePayload, type PayloadSummary } from './payload.ts';
import type { Recipe, RegistryOptions } from './recipe.ts';
import { shownUrl } from './report.ts';

/** Recipe fields that hold a secret document (cloud-init user-data, unattend.xml, a kickstart with its rootpw). */
export const SECRET_DOCUMENTS = ['user_data', 'unattend_xml', 'ks.cfg'] as const;
export type SecretDocument = (typeof SECRET_DOCUMENTS)[number];
/** The documents' bytes once read (files, URLs), so the plan can state their sizes and digests too. */
export type ResolvedPayloads = Partial<Record<SecretDocument, Buffer>>;

export type PublicRecipe = Omit<Recipe, SecretDocument | 'registry' | 'env'> & { [K in SecretDocument]?: PayloadSummary } & {
  registry?: Omit<RegistryOptions, 'password'> & { password?: PayloadSummary };
  /** The names only: a value may be a token. */
  env?: Record<string, { secret: true; bytes: number }>;
};

export function publicRecipe(recipe: Recipe, resolved: ResolvedPayloads = {}): PublicRecipe {
  const { registry, env, firmware_url, user_data: _u, unattend_xml: _x, 'ks.cfg': _k, ...plain } = recipe;
  const out: PublicRecipe = { ...plain };
  for (const field of SECRET_DOCUMENTS) {
    const p = recipe[field];
    if (p !== undefined) out[field] = summarizePayload(p, { document: true, resolved: resolved[field] });
  }
  if (firmware_url !== undefined) out.firmware_url = shownUrl(firmware_url);
  if (env !== undefined) out.env = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, { secret: true as const, bytes: Buffer.byteLength(v) }]));
  if (registry !== undefined) {
    const { password, ...others } = registry;
    out.registry = { ...others, ...(password !== undefined ? { password: summarizePayload(password, { document: false }) } : {}) };
  }
  return out;
}

/** The secrets of a plan's recipe, one line each, as the plan text shows them. */
export function secretLines(recipe: PublicRecipe): string[] {
  const lines = SECRET_DOCUMENTS.flatMap((f) => (recipe[f] ? [describeSummary(f, recipe[f])] : []));
  if (recipe.registry?.password) lines.push(`${describeSummary('registry.password', recipe.registry.password)} (taken literally)`);
  return lines;
}

/** Inline text that looked like base64 but was taken as text: worth a warning, as the sender may have meant base64. */
export function readingWarnings(recipe: PublicRecipe): string[] {
  return SECRET_DOCUMENTS.flatMap((f) => {
    const s = recipe[f];
    return s?.reading === 'text' && s.why ? [`${f}: taken as text: ${s.why}`] : [];
  });
}
