import { z } from 'zod';
import { RegistryError } from './errors.ts';
import { readSmallBody, responseError, type HttpResponse } from './transport.ts';

/** GETs a path+query on the registry, authenticated. */
export type PageFetcher = (pathAndQuery: string) => Promise<HttpResponse>;

const CatalogPageSchema = z.object({ repositories: z.array(z.string()).nullish() });
// distribution answers `"tags": null` for a repository whose tags were all deleted.
const TagsPageSchema = z.object({ tags: z.array(z.string()).nullish() });

const MAX_PAGE_BYTES = 8 * 1024 * 1024;
// A registry whose Link headers loop would otherwise keep us here forever.
const MAX_PAGES = 10_000;

/** The `rel="next"` target of a Link header, as path+query (the spec makes it relative to the registry). */
export function nextPage(link: string | string[] | undefined): string | undefined {
  for (const part of [link ?? []].flat().join(',').split(',')) {
    const match = /<([^>]+)>\s*;.*\brel="?next"?/.exec(part);
    if (match) {
      const url = new URL(match[1]!, 'http://registry.invalid');
      return `${url.pathname}${url.search}`;
    }
  }
  return undefined;
}

async function collect(fetch: PageFetcher, firstPage: string, what: string, items: (json: unknown) => string[] | null | undefined): Promise<string[]> {
  const all: string[] = [];
  const seen = new Set<string>();
  for (let page: string | undefined = firstPage; page !== undefined && !seen.has(page);) {
    if (seen.size >= MAX_PAGES) throw new RegistryError('unsupported', `${what}: more than ${MAX_PAGES} pages`);
    seen.add(page);
    const response = await fetch(page);
    if (response.statusCode !== 200) throw await responseError(response, what);
    const link = response.headers.link;
    try {
      all.push(...(items(JSON.parse((await readSmallBody(response, MAX_PAGE_BYTES, what)).toString('utf8'))) ?? []));
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw new RegistryError('unsupported', `${what}: the registry answered something that is not a listing`);
    }
    page = nextPage(link);
  }
  return all;
}

export function listRepositories(fetch: PageFetcher, registry: string, pageSize: number): Promise<string[]> {
  return collect(fetch, `/v2/_catalog?n=${pageSize}`, `repository catalog of ${registry}`, (json) => CatalogPageSchema.parse(json).repositories);
}

export function listTags(fetch: PageFetcher, label: string, repository: string, pageSize: number): Promise<string[]> {
  return collect(fetch, `/v2/${repository}/tags/list?n=${pageSize}`, `tags of ${label}`, (json) => TagsPageSchema.parse(json).tags);
}
