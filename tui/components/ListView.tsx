import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { useTheme } from '../context.tsx';

/** The slice of a list that keeps `index` in view, roughly centred. */
export function listWindow(count: number, index: number, height: number): { start: number; end: number } {
  if (count <= height) return { start: 0, end: count };
  const start = Math.min(Math.max(0, index - Math.floor(height / 2)), count - height);
  return { start, end: start + height };
}

export function moveIndex(count: number, index: number, how: 'up' | 'down' | 'pageUp' | 'pageDown' | 'home' | 'end', page = 5): number {
  if (count === 0) return 0;
  const next = { up: index - 1, down: index + 1, pageUp: index - page, pageDown: index + page, home: 0, end: count - 1 }[how];
  return Math.min(count - 1, Math.max(0, next));
}

export interface ListViewProps<T> {
  items: T[];
  index: number;
  /** Lines available, the "more" line included. */
  height: number;
  /** One line per item, `width` columns after the pointer. */
  row: (item: T, selected: boolean) => ReactNode;
  /** Greyed (still focusable, so the reason can be read). */
  disabled?: (item: T) => boolean;
  focused?: boolean;
  empty?: string;
}

/** A list with a pointer; it scrolls and says how much is above and below. */
export function ListView<T>({ items, index, height, row, disabled, focused = true, empty = '(nothing here)' }: ListViewProps<T>) {
  const theme = useTheme();
  if (!items.length) return <Text color={theme.colour.muted}>{empty}</Text>;
  const overflow = items.length > height;
  const { start, end } = listWindow(items.length, index, overflow ? Math.max(1, height - 1) : height);
  return (
    <Box flexDirection="column">
      {items.slice(start, end).map((item, n) => {
        const i = start + n;
        const selected = i === index;
        const off = disabled?.(item) ?? false;
        const pointer = selected ? (focused ? theme.glyphs.pointer : ' ') : off ? theme.glyphs.disabled : ' ';
        return (
          <Box key={i} height={1}>
            <Text color={selected && focused ? theme.colour.accent : off ? theme.colour.muted : undefined} bold={selected && focused}>
              {`${pointer} `}
            </Text>
            <Text color={off ? theme.colour.muted : undefined} inverse={selected && focused && theme.attributes && !off} dimColor={off && theme.kind !== 'serial'}>
              {row(item, selected)}
            </Text>
          </Box>
        );
      })}
      {overflow ? (
        <Text color={theme.colour.muted}>
          {`  ${start > 0 ? `${theme.glyphs.up} ${start} above` : ''}${start > 0 && end < items.length ? ', ' : ''}${end < items.length ? `${theme.glyphs.down} ${items.length - end} below` : ''}`}
        </Text>
      ) : null}
    </Box>
  );
}
