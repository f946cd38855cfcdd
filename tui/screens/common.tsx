import { Box, Text } from 'ink';
import { CONSOLE_EXIT } from '../../ops/console-session.ts';
import { useBody, useTheme } from '../context.tsx';
import { fit } from '../text.ts';
import type { Confirm } from '../hooks/useConfirm.ts';
import type { Binding } from '../keys.ts';
import type { WizardApi } from '../wizard-context.tsx';
import { Ask } from '../components/Fields.tsx';

/** q and Ctrl+C on a wizard screen: ask, then leave without writing anything. */
export function quitKeys(confirm: Confirm, w: WizardApi, showQ = true): Binding[] {
  const ask = () => confirm.ask('Quit the installer? Nothing has been written.', () => w.exit(CONSOLE_EXIT.quit), 'quit', 'stay');
  return [...(showQ ? [{ key: 'quit' as const, label: 'quit', run: ask }] : []), { key: 'interrupt', label: 'quit', hidden: true, run: ask }];
}

/** The question being asked, or the screen's own message line. */
export function Prompt({ confirm, message, tone }: { confirm: Confirm; message?: string; tone?: 'bad' | 'ok' | 'warn' }) {
  const theme = useTheme();
  const { width } = useBody();
  if (confirm.asking) {
    return (
      <Box height={1}>
        <Ask>{fit(confirm.question ?? '', width, theme.glyphs.ellipsis)}</Ask>
      </Box>
    );
  }
  if (!message) return null;
  const colour = tone ? theme.colour[tone] : undefined;
  return (
    <Box height={1}>
      <Text color={colour}>{fit(message, width, theme.glyphs.ellipsis)}</Text>
    </Box>
  );
}

/** A line saying something is being fetched, with the spinner. */
export function Loading({ what, spin }: { what: string; spin: string }) {
  const theme = useTheme();
  return <Text color={theme.colour.muted}>{`${spin} ${what}`}</Text>;
}
