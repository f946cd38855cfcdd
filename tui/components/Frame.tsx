import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { useContext } from 'react';
import { useKeys } from '../hooks/useKeys.tsx';
import { BodyContext, SizeContext, useTheme } from '../context.tsx';
import type { Theme } from '../theme.ts';
import { dispatchKey, type Binding } from '../keys.ts';
import { SCREEN_TITLE, WIZARD_SCREENS, type ScreenId } from '../model/wizard.ts';
import { fit, width } from '../text.ts';
import { StatusBar } from './StatusBar.tsx';

/**
 * The frame is one line shorter than the terminal: a full-height frame makes Ink clear the screen each time.
 * It leaves the last column free where the theme says so.
 */
function frameSize(size: { columns: number; rows: number }, theme: Pick<Theme, 'lastColumn'>) {
  const columns = Math.max(40, size.columns - (theme.lastColumn ? 0 : 1));
  const rows = Math.max(10, size.rows - 1);
  return { columns, rows, body: { width: columns - 4, height: rows - 4 } };
}

export function useFrameSize() {
  return frameSize(useContext(SizeContext), useTheme());
}

function Header({ screen, columns, note }: { screen: ScreenId; columns: number; note?: string }) {
  const theme = useTheme();
  const at = screen === 'done' || screen === 'failed' ? 'install' : screen;
  const name = ' shoal-install  ';
  const crumbs = WIZARD_SCREENS.map((s) => (s === at ? `[${SCREEN_TITLE[s]}]` : SCREEN_TITLE[s]));
  const full = crumbs.join(' > ');
  const i = WIZARD_SCREENS.indexOf(at as (typeof WIZARD_SCREENS)[number]);
  const short = `${SCREEN_TITLE[screen]} (${i + 1}/${WIZARD_SCREENS.length})`;
  const trail = note ? fit(note, columns - width(name) - 1, theme.glyphs.ellipsis) : width(name) + width(full) <= columns ? full : short;
  const parts = note ? [trail] : width(name) + width(full) <= columns ? crumbs : [short];
  return (
    <Box height={1} width={columns}>
      <Text bold color={theme.colour.accent}>
        {name}
      </Text>
      {note ? (
        <Text>{trail}</Text>
      ) : (
        parts.map((c, n) => (
          <Text key={c}>
            {n > 0 ? <Text color={theme.colour.muted}>{' > '}</Text> : null}
            {c.startsWith('[') ? (
              <Text bold inverse={theme.attributes}>
                {c}
              </Text>
            ) : (
              <Text color={theme.colour.muted}>{c}</Text>
            )}
          </Text>
        ))
      )}
    </Box>
  );
}

export interface FrameProps {
  screen: ScreenId;
  keys: Binding[];
  /** False while a text field takes the keys (its own hook handles them). */
  keysActive?: boolean;
  /** Replaces the breadcrumb (watch mode). */
  note?: string;
  children: ReactNode;
}

/** Header, a bordered body of fixed size, and the status bar with exactly the keys this screen handles. */
export function Frame({ screen, keys, keysActive = true, note, children }: FrameProps) {
  const theme = useTheme();
  const { columns, rows, body } = useFrameSize();
  useKeys((input, key) => void dispatchKey(keys, input, key), { isActive: keysActive });
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <Header screen={screen} columns={columns} note={note} />
      <Box borderStyle={theme.border} borderColor={theme.colour.muted} width={columns} height={rows - 2} paddingX={1} flexDirection="column" overflow="hidden">
        <BodyContext.Provider value={body}>{children}</BodyContext.Provider>
      </Box>
      <StatusBar keys={keys} columns={columns} />
    </Box>
  );
}
