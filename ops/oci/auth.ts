import { z } from 'zod';
import { RegistryError } from './errors.ts';
import { readSmallBody, responseError, type HttpInit, type HttpResponse, type Transport } from './transport.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lowercased: `basic`, `bearer`, ... */
  scheme: string;
  /** Lowercased parameter names: `realm`, `service`, `scope`, ... */
  params: Record<string, string>;
}

const TOKEN_RE = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/**
 * Parses WWW-Authenticate (RFC 7235): one or more challenges, each a scheme
 * followed by comma-separated `name=value` parameters where a value is a
 * token or a quoted string (scopes such as "repository:a:pull,push" contain
 * commas, so a naive split on "," would cut them).
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const token = (): string | undefined => {
    TOKEN_RE.lastIndex = i;
    const match = TOKEN_RE.exec(text);
    if (!match) return undefined;
    i += match[0].length;
    return match[0];
  };
  const quoted = (): string => {
    let value = '';
    for (i++; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') i++;
      value += text[i] ?? '';
    }
    i++;
    return value;
  };
  while (i < text.length) {
    if (/[\s,]/.test(text[i]!)) {
      i++;
      continue;
    }
    const name = token();
    if (name === undefined) {
      i++; // not a token: skip the stray character rather than loop forever
      continue;
    }
    let j = i;
    while (text[j] === ' ') j++;
    if (text[j] === '=' && current) {
      i = j + 1;
      while (text[i] === ' ') i++;
      current.params[name.toLowerCase()] = text[i] === '"' ? quoted() : (token() ?? '');
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

const TokenResponseSchema = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().positive().optional(),
});

// The distribution spec's default token lifetime when the issuer names none.
const DEFAULT_TOKEN_SECONDS = 60;
// Renew a little early so a token does not expire between check and use.
const TOKEN_MARGIN_SECONDS = 10;

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/**
 * Answers registry authentication challenges: anonymous first, then HTTP
 * basic or a bearer token from the realm the registry names. Remembers what
 * each registry wanted, so later requests carry credentials up front instead
 * of collecting a 401 each time. Never logs a password or a token.
 */
export class Authenticator {
  private readonly basicRegistries = new Set<string>();
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly transport: Transport,
    private readonly credentials: Credentials | undefined,
    private readonly log: (line: string) => void,
  ) {}

  /** A request to a registry on behalf of `scope` (e.g. `repository:os/ubuntu:pull`), authenticating as the registry demands. */
  async request(registry: string, path: string, scope: string, init: HttpInit = {}): Promise<HttpResponse> {
    const first = await this.transport.request(registry, path, this.authorize(registry, scope, init));
    if (first.statusCode !== 401) return first;
    const challenges = parseChallenges(first.headers['www-authenticate']);
    await first.body.dump();
    await this.answer(registry, scope, challenges, init.signal);
    const second = await this.transport.request(registry, path, this.authorize(registry, scope, init));
    if (second.statusCode !== 401) return second;
    await second.body.dump();
    throw this.refused(registry, scope);
  }

  /** A 401 despite our best answer: no credentials, a wrong password, or a user without access. */
  private refused(registry: string, scope: string): RegistryError {
    if (!this.credentials) return this.needsCredentials(registry);
    const user = `user "${this.credentials.username}"`;
    return new RegistryError(
      'unauthorized',
      this.basicRegistries.has(registry)
        ? `registry ${registry} rejected the password of ${user} (HTTP 401): check the username and password`
        : `registry ${registry} refused ${user} for ${scope} (HTTP 401): check the username, the password and that the user may pull this repository`,
    );
  }

  private needsCredentials(registry: string): RegistryError {
    return new RegistryError(
      'unauthorized',
      `registry ${registry} requires authentication (HTTP 401): supply a username and password for it (RegistryClient options username and password)`,
    );
  }

  private authorize(registry: string, scope: string, init: HttpInit): HttpInit {
    const cached = this.tokens.get(`${registry} ${scope}`);
    if (cached && cached.expiresAt > Date.now()) {
      return { ...init, headers: { ...init.headers, authorization: `Bearer ${cached.token}` } };
    }
    if (this.credentials && this.basicRegistries.has(registry)) {
      return { ...init, headers: { ...init.headers, authorization: basicHeader(this.credentials) } };
    }
    return init;
  }

  private async answer(registry: string, scope: string, challenges: Challenge[], signal?: AbortSignal): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.tokens.delete(`${registry} ${scope}`);
      await this.fetchToken(registry, scope, bearer, signal);
      return;
    }
    if (basic) {
      // Basic credentials already went with the request that got this 401.
      if (!this.credentials || this.basicRegistries.has(registry)) throw this.refused(registry, scope);
      this.log(`oci: ${registry} asks for HTTP basic authentication; sending the credentials of user "${this.credentials.username}"`);
      this.basicRegistries.add(registry);
      return;
    }
    const offered = challenges.map((c) => c.scheme).join(', ') || 'none';
    throw new RegistryError('unsupported', `registry ${registry} answered 401 with authentication schemes: ${offered}; only Basic and Bearer are supported`);
  }

  private async fetchToken(registry: string, scope: string, challenge: Challenge, signal?: AbortSignal): Promise<void> {
    const { realm, service } = challenge.params;
    if (!realm) {
      throw new RegistryError('unsupported', `registry ${registry} asks for a bearer token but names no realm to get it from`);
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('unsupported', `registry ${registry} names an invalid token realm "${realm}"`);
    }
    if (service) url.searchParams.set('service', service);
    // The challenge's scope is what this request needs; ours is the fallback for registries that omit it.
    for (const s of (challenge.params.scope ?? scope).split(' ')) url.searchParams.append('scope', s);
    const headers: Record<string, string> = this.credentials ? { authorization: basicHeader(this.credentials) } : {};
    const response = await this.transport.requestUrl(url, registry, { headers, signal });
    const what = `token service ${url.origin} of registry ${registry}`;
    if (response.statusCode === 401 || response.statusCode === 403) {
      await response.body.dump();
      if (!this.credentials) throw this.needsCredentials(registry);
      throw new RegistryError('unauthorized', `${what} rejected user "${this.credentials.username}" (HTTP ${response.statusCode}): check the username and password`);
    }
    if (response.statusCode !== 200) throw await responseError(response, what);
    let parsed: z.infer<typeof TokenResponseSchema>;
    try {
      parsed = TokenResponseSchema.parse(JSON.parse((await readSmallBody(response, 1024 * 1024, what)).toString('utf8')));
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw new RegistryError('unsupported', `${what} answered something that is not a token response`);
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new RegistryError('unsupported', `${what} answered without a token`);
    const seconds = parsed.expires_in ?? DEFAULT_TOKEN_SECONDS;
    this.tokens.set(`${registry} ${scope}`, {
      token,
      expiresAt: Date.now() + Math.max(1, seconds - TOKEN_MARGIN_SECONDS) * 1000,
    });
    this.log(`oci: got a bearer token from ${url.origin} for ${scope} (${this.credentials ? `user "${this.credentials.username}"` : 'anonymous'}, valid ${seconds}s)`);
  }
}
