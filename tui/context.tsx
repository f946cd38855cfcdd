import { createContext, useContext } from 'react';
import type { ConsoleSession } from '../ops/console-session.ts';
import { themeFor, type Theme } from './theme.ts';

export interface TerminalSize {
  columns: number;
  rows: number;
}

export const ThemeContext = createContext<Theme>(themeFor('serial'));
export const SessionContext = createContext<ConsoleSession | undefined>(undefined);
export const SizeContext = createContext<TerminalSize>({ columns: 80, rows: 24 });
/** The body's inner size, set by the Frame, so screens lay out their lines to fit. */
export const BodyContext = createContext<{ width: number; height: number }>({ width: 76, height: 19 });

export const useTheme = () => useContext(ThemeContext);
export const useBody = () => useContext(BodyContext);
export function useSession(): ConsoleSession {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no console session');
  return s;
}
