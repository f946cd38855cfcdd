import { Box, Text } from 'ink';
import { useTheme } from '../context.tsx';
import { fit } from '../text.ts';

/** The first line shown when `offset` asks for it, kept inside the text. */
export const clampOffset = (offset: number, lines: number, height: number) => Math.max(0, Math.min(offset, Math.max(0, lines - height)));

export interface ScrollTextProps {
  lines: string[];
  /** Lines available; when the text is longer, the last one says where we are. */
  height: number;
  width: number;
  offset: number;
  colourOf?: (line: string) => string | undefined;
}

/** Pre-wrapped lines in a window; scrolling is the screen's (offset), the "more" line is ours. */
export function ScrollText({ lines, height, width, offset, colourOf }: ScrollTextProps) {
  const theme = useTheme();
  const overflow = lines.length > height;
  const room = overflow ? Math.max(1, height - 1) : height;
  const start = clampOffset(offset, lines.length, room);
  const shown = lines.slice(start, start + room);
  const below = lines.length - start - shown.length;
  return (
    <Box flexDirection="column" height={Math.min(height, Math.max(1, lines.length))}>
      {shown.map((l, i) => (
        <Text key={i} color={colourOf?.(l)}>
          {fit(l, width, theme.glyphs.ellipsis) || ' '}
        </Text>
      ))}
      {overflow ? (
        <Text color={theme.colour.muted}>
          {fit(
            `${start > 0 ? `${theme.glyphs.up} ${start} above  ` : ''}${below > 0 ? `${theme.glyphs.down} ${below} below  ` : ''}(lines ${start + 1}-${start + shown.length} of ${lines.length})`,
            width,
            theme.glyphs.ellipsis,
          )}
        </Text>
      ) : null}
    </Box>
  );
}
