/**
 * The Image screen's state: which list or form is open (repositories, tags, a typed reference, the registry's
 * host, the login form), what is typed in each, and the pointer in each list. The registry's answers stay in the
 * screen's async hooks; `gen` asks them to load again.
 */
export type BrowseMode = 'repos' | 'tags' | 'type' | 'host' | 'login';

export interface ImageBrowser {
  mode: BrowseMode;
  /** Where the login form goes back to. */
  before: Exclude<BrowseMode, 'login'>;
  repo?: string;
  repoIndex: number;
  /** The tag the technician moved to; until then the chosen image's tag (coming back to the screen), else the first. */
  tagIndex?: number;
  typed: string;
  /** The typed reference last looked up. */
  submitted?: string;
  hostText: string;
  user: string;
  pass: string;
  loginField: 0 | 1;
  message?: string;
  /** Bumped to ask the registry again: refresh, another registry, new credentials. */
  gen: number;
}

export type ImageBrowserAction =
  | { type: 'open'; mode: 'type' | 'host' }
  /** Esc in the typed-reference, host or login form. */
  | { type: 'cancel'; hasHost: boolean }
  /** The technician asks for the login form (`credentials`), or the registry answered 401 (`refused`: to credentials already given). */
  | { type: 'login'; refused?: boolean; prompted?: boolean }
  | { type: 'point-repo'; index: number }
  | { type: 'point-tag'; index: number }
  | { type: 'open-repo'; repo: string }
  | { type: 'back-to-repos' }
  | { type: 'edit'; field: 'typed' | 'hostText' | 'user' | 'pass'; value: string }
  | { type: 'submit'; reference: string }
  | { type: 'message'; message?: string }
  | { type: 'refresh' }
  /** The registry in `hostText` is the one to browse now. */
  | { type: 'registry-set' }
  | { type: 'login-field'; field?: 0 | 1 }
  /** The credentials were handed to the session. */
  | { type: 'logged-in' };

/** `host/repo:tag` on this registry -> its repository and tag. */
export function chosenOn(reference: string | undefined, host: string | undefined): { repo: string; tag: string } | undefined {
  if (!reference || !host || !reference.startsWith(`${host}/`)) return undefined;
  const m = /^([^@]+):([^:/@]+)$/.exec(reference.slice(host.length + 1));
  return m ? { repo: m[1]!, tag: m[2]! } : undefined;
}

/** Open at the repositories of the registry, at the chosen image's tags when coming back, or at a typed reference with no registry set. */
export function initialBrowser(host: string | undefined, chosenReference: string | undefined): ImageBrowser {
  const chosen = chosenOn(chosenReference, host);
  return {
    mode: host ? (chosen ? 'tags' : 'repos') : 'type',
    before: 'repos',
    repo: chosen?.repo,
    repoIndex: 0,
    typed: chosenReference ?? '',
    hostText: host ?? '',
    user: '',
    pass: '',
    loginField: 0,
    gen: 0,
  };
}

/** The pointer in the tag list: where the technician moved it, else the chosen image's tag, else the first. */
export function tagIndexOf(s: ImageBrowser, tags: readonly string[], chosen: { repo: string; tag: string } | undefined): number {
  return s.tagIndex ?? Math.max(0, chosen && s.repo === chosen.repo ? tags.indexOf(chosen.tag) : 0);
}

const afterLogin = (s: ImageBrowser): BrowseMode => s.before;

export function imageBrowserReducer(s: ImageBrowser, a: ImageBrowserAction): ImageBrowser {
  switch (a.type) {
    case 'open':
      return { ...s, mode: a.mode };
    case 'cancel':
      if (s.mode === 'login') return { ...s, mode: afterLogin(s) };
      return { ...s, mode: a.hasHost ? 'repos' : 'type' };
    case 'login': {
      if (s.mode === 'login') return s;
      const asked = { ...s, before: s.mode, loginField: s.user ? 1 : 0, mode: 'login' } as const;
      // A 401 empties the password field: the one given was refused, or none was.
      return a.prompted ? { ...asked, pass: '', message: a.refused ? 'The registry refused these credentials.' : undefined } : asked;
    }
    case 'point-repo':
      return { ...s, repoIndex: a.index, message: undefined };
    case 'point-tag':
      return { ...s, tagIndex: a.index, message: undefined };
    case 'open-repo':
      return { ...s, repo: a.repo, tagIndex: undefined, mode: 'tags' };
    case 'back-to-repos':
      return { ...s, mode: 'repos' };
    case 'edit':
      return { ...s, [a.field]: a.value };
    case 'submit':
      return { ...s, submitted: a.reference };
    case 'message':
      return { ...s, message: a.message };
    case 'refresh':
      return { ...s, gen: s.gen + 1 };
    case 'registry-set':
      return { ...s, repoIndex: 0, repo: undefined, gen: s.gen + 1, mode: s.hostText.trim() ? 'repos' : 'type' };
    case 'login-field':
      return { ...s, loginField: a.field ?? (s.loginField === 0 ? 1 : 0) };
    case 'logged-in':
      return { ...s, pass: '', message: undefined, gen: s.gen + 1, mode: afterLogin(s) };
  }
}
