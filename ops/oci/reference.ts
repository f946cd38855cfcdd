import { z } from 'zod';
import { RegistryError } from './errors.ts';

// Grammar of github.com/distribution/reference, restricted to what an
// installer can pull: the registry host is mandatory (there is no Docker Hub
// default on a server console) and digests are sha256 only, because sha256 is
// what blobs are verified with.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::(\\d{1,5}))?$`);
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

const registryField = z
  .string()
  .regex(HOST_RE, 'the registry must be a host name, IPv4 address or [IPv6] address, with an optional :port')
  .refine((host) => Number(HOST_RE.exec(host)?.[1] ?? 1) <= 65535, 'the registry port must be 1-65535');

const repositoryField = z
  .string()
  .max(255, 'the repository name is longer than 255 characters')
  .regex(REPOSITORY_RE, 'the repository must be lowercase letters and digits, separated by ".", "_", "__" or "-", in "/"-separated components');

export const RepositorySchema = z.object({ registry: registryField, repository: repositoryField });

export const ImageReferenceSchema = RepositorySchema.extend({
  tag: z.string().regex(TAG_RE, 'the tag must be 1-128 letters, digits, "_", "." or "-", not starting with "." or "-"').optional(),
  digest: z.string().regex(DIGEST_RE, 'the digest must be "sha256:" followed by 64 lowercase hex digits').optional(),
});

export type Repository = z.infer<typeof RepositorySchema>;
export type ImageReference = z.infer<typeof ImageReferenceSchema>;

const EXAMPLE = 'controller.internal:8080/os-images/ubuntu-rootfs:22.04';

function invalid(input: string, why: string): RegistryError {
  return new RegistryError('bad-reference', `invalid image reference "${input}": ${why} (expected e.g. ${EXAMPLE})`);
}

/**
 * Splits `host[:port]/repo[/repo...]` off the rest. A first component counts as
 * a host only when it has a dot or a port, or is localhost or [IPv6] -- the
 * same rule Docker uses, so `library/ubuntu` is read as a repository with no
 * registry rather than as a registry called "library".
 */
function splitRegistry(input: string, name: string): { registry: string; path: string } {
  if (input.includes('://')) {
    throw invalid(input, 'drop the URL scheme; a plain-HTTP registry is configured with plainHttp instead');
  }
  const slash = name.indexOf('/');
  const registry = slash < 0 ? '' : name.slice(0, slash);
  const looksLikeHost = registry.includes('.') || registry.includes(':') || registry === 'localhost' || registry.startsWith('[');
  if (!looksLikeHost) {
    throw invalid(input, 'it names no registry host; put host[:port]/ in front of the repository');
  }
  return { registry, path: name.slice(slash + 1) };
}

function check<T>(schema: z.ZodType<T>, input: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(input, parsed.error.issues.map((issue) => issue.message).join('; '));
  return parsed.data;
}

/** Parses `host[:port]/repo[/repo...][:tag][@sha256:<hex>]`; the tag defaults to `latest` unless a digest is given. */
export function parseReference(input: string): ImageReference {
  const at = input.indexOf('@');
  const name = at < 0 ? input : input.slice(0, at);
  const digest = at < 0 ? undefined : input.slice(at + 1);
  if (digest !== undefined && /^[a-z0-9]+:/i.test(digest) && !digest.startsWith('sha256:')) {
    throw invalid(input, `only sha256 digests are supported, not "${digest.split(':')[0]}"`);
  }
  const { registry, path } = splitRegistry(input, name);
  // A colon after the last slash separates the tag (the registry's port is already split off).
  const colon = path.lastIndexOf(':');
  const repository = colon < 0 ? path : path.slice(0, colon);
  const tag = colon < 0 ? (digest === undefined ? 'latest' : undefined) : path.slice(colon + 1);
  return check(ImageReferenceSchema, input, {
    registry,
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  });
}

/** Parses `host[:port]/repo[/repo...]` with no tag or digest, as used to list tags. */
export function parseRepository(input: string): Repository {
  const { registry, path } = splitRegistry(input, input);
  if (path.includes(':') || path.includes('@')) {
    throw invalid(input, 'a repository has no tag or digest here');
  }
  return check(RepositorySchema, input, { registry, repository: path });
}

/** Checks a bare registry host (`host[:port]`), as used to list a registry's repositories. */
export function parseRegistry(input: string): string {
  const parsed = registryField.safeParse(input);
  if (!parsed.success) {
    throw new RegistryError('bad-reference', `invalid registry "${input}": ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  return parsed.data;
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
