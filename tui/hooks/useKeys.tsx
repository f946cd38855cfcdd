import { useInput, type Key } from 'ink';
import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

type Handler = (input: string, key: Key) => void;
interface Entry {
  handler: Handler;
  active: boolean;
}

/** How long a key waits for the redraw the previous key caused, when it caused none. */
const SETTLE_MS = 40;
/**
 * How long a key waits for a redraw the previous key announced (expectCommit): a slow console (seen: one vCPU
 * under TCG) takes longer than SETTLE_MS to draw, and an Enter handled before the last typed character's frame
 * read the field without it ("vd" for "vda": refused).
 */
const ANNOUNCED_MS = 2000;
/**
 * A lone Esc waits this long for the rest of an escape sequence: over serial-over-LAN an arrow key's
 * ESC [ B can arrive in two reads, and Ink would see Esc (back!) then "[B".
 */
export const ESC_DELAY_MS = 100;

/**
 * One subscription to Ink's input for the whole app, handing keys to the components that want them, one key
 * at a time. Ink 6.8 renders React updates asynchronously (default priority), and a serial line, a paste or
 * tmux send-keys delivers several keys in one read: handled back to back, the second key would see the screen
 * as it was before the first (Tab then Down moved the old list). So each key waits until the frame the
 * previous key caused is committed (or SETTLE_MS pass without one). Components register while their frame is
 * committed (Ink's useInput subscribes later, in a passive effect, and missed keys typed right after a screen
 * change), always with the handler of their latest render.
 */
export class KeyRouter {
  readonly entries = new Set<Entry>();
  private queue: [string, Key][] = [];
  private pumping = false;
  private commits = 0;
  private onCommit?: () => void;
  private announced = false;

  private pendingEsc?: NodeJS.Timeout;

  push(input: string, key: Key) {
    if (this.pendingEsc) {
      clearTimeout(this.pendingEsc);
      this.pendingEsc = undefined;
      const joined = joinEscape(input);
      if (joined) {
        this.enqueue(joined.key);
        if (joined.rest) this.enqueue(...splitPaste(joined.rest, NO_KEY));
        return;
      }
      this.enqueue(['', ESC_KEY]);
    }
    if (key.escape && input === '') {
      this.pendingEsc = setTimeout(() => {
        this.pendingEsc = undefined;
        this.enqueue(['', ESC_KEY]);
      }, ESC_DELAY_MS);
      return;
    }
    this.enqueue(...splitPaste(input, key));
  }

  private enqueue(...keys: [string, Key][]) {
    this.queue.push(...keys);
    if (!this.pumping) void this.pump();
  }

  dispose() {
    if (this.pendingEsc) clearTimeout(this.pendingEsc);
  }

  committed() {
    this.commits++;
    this.onCommit?.();
  }

  /** The key being handled will redraw for certain (a text field's edit): the next key waits for that frame. */
  expectCommit() {
    this.announced = true;
  }

  private async pump() {
    this.pumping = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const before = this.commits;
        this.announced = false;
        for (const e of [...this.entries]) if (e.active) e.handler(next[0], next[1]);
        // Keys that come while this one's frame is drawn queue behind it.
        await this.settled(before, this.announced ? ANNOUNCED_MS : SETTLE_MS);
      }
    } finally {
      this.pumping = false;
    }
  }

  private settled(before: number, waitMs: number): Promise<void> {
    if (this.commits > before) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onCommit = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.onCommit = done;
    });
  }
}

export const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/**
 * Ink hands a pasted (or bursty) run of plain characters over as one input, Enter included ("sda\r"). Split it
 * into the keys a technician typed, so the field gets "sda" and the screen gets its Enter.
 */
export function splitPaste(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || key.ctrl || key.meta || key.escape || input.includes('\u001B')) return [[input, key]];
  return [...input].map((ch): [string, Key] => {
    if (ch === '\r' || ch === '\n') return ['', { ...NO_KEY, return: true }];
    if (ch === '\t') return ['', { ...NO_KEY, tab: true }];
    if (ch === '\u007F') return ['', { ...NO_KEY, delete: true }];
    if (ch === '\b') return ['', { ...NO_KEY, backspace: true }];
    const code = ch.charCodeAt(0);
    if (code >= 1 && code <= 26) return [String.fromCharCode(code + 96), { ...NO_KEY, ctrl: true }];
    return [ch, { ...NO_KEY, shift: /[A-Z]/.test(ch) }];
  });
}

const ESC_KEY: Key = { ...NO_KEY, escape: true, meta: true };

const CSI_KEYS: Record<string, Partial<Key>> = {
  '[A': { upArrow: true },
  '[B': { downArrow: true },
  '[C': { rightArrow: true },
  '[D': { leftArrow: true },
  OA: { upArrow: true },
  OB: { downArrow: true },
  OC: { rightArrow: true },
  OD: { leftArrow: true },
  '[H': { home: true },
  '[F': { end: true },
  OH: { home: true },
  OF: { end: true },
  '[1~': { home: true },
  '[4~': { end: true },
  '[5~': { pageUp: true },
  '[6~': { pageDown: true },
  '[3~': { delete: true },
  '[Z': { tab: true, shift: true },
};

/** The tail of an escape sequence that came after its ESC, as the key it was ("[B" -> Down). */
export function joinEscape(input: string): { key: [string, Key]; rest: string } | undefined {
  const m = /^(\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(input);
  const named = m ? CSI_KEYS[m[1]!] : undefined;
  if (!m || !named) return undefined;
  return { key: ['', { ...NO_KEY, ...named }], rest: input.slice(m[1]!.length) };
}

const RouterContext = createContext<KeyRouter | undefined>(undefined);

export function KeyRouterProvider({ children }: { children: ReactNode }) {
  const [router] = useState(() => new KeyRouter());
  const latest = useRef(router);
  useInput((input, key) => latest.current.push(input, key));
  useEffect(() => () => router.dispose(), [router]);
  return <RouterContext.Provider value={router}>{children}</RouterContext.Provider>;
}

function useRouter(): KeyRouter {
  const router = useContext(RouterContext);
  if (!router) throw new Error('useKeys needs a KeyRouterProvider');
  return router;
}

/** For a handler whose key always redraws: call the returned function, and the next key waits for that frame. */
export const useExpectCommit = (): (() => void) => {
  const router = useRouter();
  return () => router.expectCommit();
};

/** Like Ink's useInput, without the gap after mounting, without stale handlers, one key per frame. */
export function useKeys(handler: Handler, opts: { isActive?: boolean } = {}) {
  const router = useRouter();
  const entry = useRef<Entry>({ handler, active: opts.isActive ?? true });
  entry.current.handler = handler;
  entry.current.active = opts.isActive ?? true;
  useLayoutEffect(() => {
    const e = entry.current;
    router.entries.add(e);
    return () => void router.entries.delete(e);
  }, [router]);
  // Every commit of a component that takes keys: the next queued key may go.
  useLayoutEffect(() => router.committed());
}
