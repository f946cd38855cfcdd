import { Box, Text } from 'ink';
import { useTheme } from '../context.tsx';
import { keyName, type Binding } from '../keys.ts';
import { width } from '../text.ts';

/** The keys this screen answers to, named as the console can draw them. Keys that do not fit are left out. */
export function StatusBar({ keys, columns }: { keys: Binding[]; columns: number }) {
  const theme = useTheme();
  const shown: { name: string; label: string }[] = [];
  let used = 1;
  const seen = new Set<string>();
  for (const k of keys) {
    if (k.hidden || seen.has(`${k.key}:${k.label}`)) continue;
    seen.add(`${k.key}:${k.label}`);
    const name = keyName(k.key, theme);
    const w = width(name) + 1 + width(k.label) + 2;
    if (used + w > columns) break;
    used += w;
    shown.push({ name, label: k.label });
  }
  return (
    <Box height={1} width={columns}>
      <Text> </Text>
      {shown.map((k) => (
        <Text key={`${k.name} ${k.label}`}>
          <Text bold color={theme.colour.key} inverse={theme.kind === 'serial'}>
            {k.name}
          </Text>
          <Text>{` ${k.label}  `}</Text>
        </Text>
      ))}
    </Box>
  );
}
