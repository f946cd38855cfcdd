import { useInput, type Key } from 'ink';
import { createContext, useContext, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

type Handler = (input: string, key: Key) => void;
interface Entry {
  handler: Handler;
  active: boolean;
}

/**
 * One subscription to Ink's input for the whole app, handing each key to the components that want keys now.
 * Ink's own useInput subscribes in a passive effect, so a key typed right after a screen change (a paste, a
 * serial line delivering a burst, tmux send-keys) reached no one; here a component is registered while its
 * frame is committed, and always with the handler of its latest render.
 */
class KeyRouter {
  readonly entries = new Set<Entry>();
  dispatch(input: string, key: Key) {
    for (const e of [...this.entries]) if (e.active) e.handler(input, key);
  }
}

const RouterContext = createContext<KeyRouter | undefined>(undefined);

export function KeyRouterProvider({ children }: { children: ReactNode }) {
  const [router] = useState(() => new KeyRouter());
  const latest = useRef(router);
  useInput((input, key) => latest.current.dispatch(input, key));
  return <RouterContext.Provider value={router}>{children}</RouterContext.Provider>;
}

/** Like Ink's useInput, without the gap after mounting and without stale handlers. */
export function useKeys(handler: Handler, opts: { isActive?: boolean } = {}) {
  const router = useContext(RouterContext);
  if (!router) throw new Error('useKeys needs a KeyRouterProvider');
  const entry = useRef<Entry>({ handler, active: opts.isActive ?? true });
  entry.current.handler = handler;
  entry.current.active = opts.isActive ?? true;
  useLayoutEffect(() => {
    const e = entry.current;
    router.entries.add(e);
    return () => void router.entries.delete(e);
  }, [router]);
}
