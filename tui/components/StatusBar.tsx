import { Box, Text } from 'ink';
import { useTheme } from '../context.tsx';
import { keyName, type Binding } from '../keys.ts';
import { width } from '../text.ts';

/** The keys this screen answers to, named as the console can draw them. Too many for one line: shorter labels. */
export function StatusBar({ keys, columns }: { keys: Binding[]; columns: number }) {
  const theme = useTheme();
  const seen = new Set<string>();
  const all = keys.filter((k) => !k.hidden && !seen.has(`${k.key}:${k.label}`) && seen.add(`${k.key}:${k.label}`)).map((k) => ({ name: keyName(k.key, theme), label: k.label }));
  const length = (ks: { name: string; label: string }[]) => 1 + ks.reduce((n, k) => n + width(k.name) + (k.label ? 1 + width(k.label) : 0) + 2, 0);
  let shown = all;
  if (length(shown) > columns) shown = all.map((k) => ({ ...k, label: k.label.split(' ')[0]! }));
  if (length(shown) > columns) shown = all.map((k) => ({ ...k, label: '' }));
  return (
    <Box height={1} width={columns}>
      <Text> </Text>
      {shown.map((k) => (
        <Text key={`${k.name} ${k.label}`}>
          <Text bold color={theme.colour.key} inverse={theme.kind === 'serial'}>
            {k.name}
          </Text>
          <Text>{`${k.label ? ` ${k.label}` : ''}  `}</Text>
        </Text>
      ))}
    </Box>
  );
}
