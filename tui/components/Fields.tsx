import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { useBody, useTheme } from '../context.tsx';
import { fit, padEnd, wrap, wrapMax } from '../text.ts';

/** `Label      value`, the value wrapped to at most `lines` lines under itself (cut only beyond that). */
export function Field({ label, value, labelWidth = 12, colour, lines = 1 }: { label: string; value: string; labelWidth?: number; colour?: string; lines?: number }) {
  const theme = useTheme();
  const { width } = useBody();
  const rows = wrapMax(value, width - labelWidth, lines, theme.glyphs.ellipsis);
  return (
    <Box flexDirection="column">
      {rows.map((r, i) => (
        <Box key={i} height={1}>
          <Text color={theme.colour.muted}>{padEnd(i === 0 ? label : '', labelWidth)}</Text>
          <Text color={colour}>{r}</Text>
        </Box>
      ))}
    </Box>
  );
}

/** Text wrapped to the body width; at most `max` lines. */
export function Para({ text, max = 99, colour, bold, indent = '' }: { text: string; max?: number; colour?: string; bold?: boolean; indent?: string }) {
  const theme = useTheme();
  const { width } = useBody();
  const lines = wrap(text, width, indent);
  const kept = lines.length > max ? [...lines.slice(0, max - 1), fit(lines.slice(max - 1).join(' '), width, theme.glyphs.ellipsis)] : lines;
  return (
    <Box flexDirection="column">
      {kept.map((l, i) => (
        <Text key={i} color={colour} bold={bold}>
          {l || ' '}
        </Text>
      ))}
    </Box>
  );
}

/** A question that waits for y or n (the screen binds the keys); shown in the warning colour. */
export function Ask({ children }: { children: ReactNode }) {
  const theme = useTheme();
  return (
    <Text bold color={theme.colour.warn}>
      {children}
    </Text>
  );
}
