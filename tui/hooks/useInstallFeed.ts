import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { InstallEvent } from '../../ops/events.ts';
import { applyEvent, initialInstall, type InstallModel } from '../model/install.ts';

/** At most this many redraws a second from install events, however fast they come. */
export const MAX_EVENT_FPS = 10;

/**
 * The runner's events folded into one model as they arrive; React hears about it at most MAX_EVENT_FPS times a
 * second (a burst of a thousand progress events costs one frame), and never misses the last state.
 */
export function useInstallFeed(frameMs = 1000 / MAX_EVENT_FPS) {
  const [version, setVersion] = useState(0);
  const ref = useRef<{ model: InstallModel; timer?: NodeJS.Timeout; last: number; alive: boolean }>({ model: initialInstall(), last: 0, alive: true });

  const flush = useCallback(() => {
    const r = ref.current;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    r.last = Date.now();
    if (r.alive) setVersion((v) => v + 1);
  }, []);

  const push = useCallback(
    (e: InstallEvent) => {
      const r = ref.current;
      applyEvent(r.model, e);
      if (r.timer) return;
      r.timer = setTimeout(flush, Math.max(0, r.last + frameMs - Date.now()));
    },
    [flush, frameMs],
  );

  const reset = useCallback(
    (model: InstallModel) => {
      ref.current.model = model;
      flush();
    },
    [flush],
  );

  useEffect(() => {
    const r = ref.current;
    r.alive = true;
    return () => {
      r.alive = false;
      if (r.timer) clearTimeout(r.timer);
    };
  }, []);

  // One stable object: `model` always reads the current model, even from a callback made before a reset.
  const api = useMemo(
    () => ({
      get model() {
        return ref.current.model;
      },
      version: 0,
      push,
      reset,
      flush,
    }),
    [push, reset, flush],
  );
  api.version = version;
  return api;
}

export type InstallFeed = ReturnType<typeof useInstallFeed>;
