import { useCallback, useEffect, useRef, useState } from 'react';

export type AsyncState<T> = { status: 'loading' } | { status: 'ok'; value: T } | { status: 'error'; error: Error };

/** Run `load` now, when `deps` change and on `reload()`; a late answer to an older call is dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[], opts: { keepPrevious?: boolean } = {}): AsyncState<T> & { reload: () => void } {
  const [state, setState] = useState<AsyncState<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    // keepPrevious: show the last answer until the new one arrives (no flicker on every keystroke).
    setState((s) => (opts.keepPrevious && s.status === 'ok' ? s : { status: 'loading' }));
    load().then(
      (value) => mine === seq.current && setState({ status: 'ok', value }),
      (error: unknown) => mine === seq.current && setState({ status: 'error', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  useEffect(() => () => void ++seq.current, []);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
