import { useEffect, useState } from 'react';
import { useTheme } from '../context.tsx';

/** A counter that moves every theme.tickMs while `active` (4/s on the VT: well under the frame budget). */
export function useTick(active: boolean): number {
  const { tickMs } = useTheme();
  const [i, setI] = useState(0);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setI((n) => n + 1), tickMs);
    return () => clearInterval(t);
  }, [active, tickMs]);
  return i;
}

/** The theme's spinner frame. */
export function useSpinner(active: boolean): string {
  const theme = useTheme();
  const i = useTick(active);
  return active ? theme.spinner[i % theme.spinner.length]! : ' ';
}
