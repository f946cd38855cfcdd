import { Text } from 'ink';
import { useTheme } from '../context.tsx';

/** A bar `width` columns wide for `ratio` (0..1), or a moving block when the total is unknown. */
export function ProgressBar({ ratio, width, tick = 0 }: { ratio?: number; width: number; tick?: number }) {
  const theme = useTheme();
  const w = Math.max(4, width);
  if (ratio === undefined) {
    const at = tick % w;
    return (
      <Text color={theme.colour.accent}>
        {theme.glyphs.barEmpty.repeat(at)}
        {theme.glyphs.barFull.repeat(Math.min(3, w - at))}
        {theme.glyphs.barEmpty.repeat(Math.max(0, w - at - 3))}
      </Text>
    );
  }
  const full = Math.round(Math.max(0, Math.min(1, ratio)) * w);
  return (
    <Text>
      <Text color={theme.colour.accent}>{theme.glyphs.barFull.repeat(full)}</Text>
      <Text color={theme.colour.muted}>{theme.glyphs.barEmpty.repeat(w - full)}</Text>
    </Text>
  );
}
