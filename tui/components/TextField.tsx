import { Text, useInput } from 'ink';
import { useEffect, useState } from 'react';
import { useTheme } from '../context.tsx';
import { width as textWidth } from '../text.ts';

export interface TextFieldProps {
  value: string;
  onChange: (value: string) => void;
  focused: boolean;
  /** Columns for the field; longer values scroll to keep the cursor in view. */
  width: number;
  /** Show `*` for each character (passwords). */
  mask?: boolean;
  placeholder?: string;
}

/**
 * One line of text input: typing, Backspace, Delete, Left/Right, Home/End, Ctrl+U (clear).
 * Enter, Esc, Tab and Up/Down are left to the screen.
 */
export function TextField({ value, onChange, focused, width, mask, placeholder }: TextFieldProps) {
  const theme = useTheme();
  const [cursor, setCursor] = useState(value.length);
  useEffect(() => setCursor((c) => Math.min(c, value.length)), [value]);
  useInput(
    (input, key) => {
      if (key.return || key.escape || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return;
      if (key.leftArrow) return setCursor((c) => Math.max(0, c - 1));
      if (key.rightArrow) return setCursor((c) => Math.min(value.length, c + 1));
      if (key.home || (key.ctrl && input === 'a')) return setCursor(0);
      if (key.end || (key.ctrl && input === 'e')) return setCursor(value.length);
      if (key.ctrl && input === 'u') {
        setCursor(0);
        return onChange('');
      }
      if (key.backspace || (key.delete && input === '')) {
        // Many consoles send DEL (0x7f) for Backspace, which Ink names "delete": treat both as erase-left.
        if (cursor === 0) return;
        onChange(value.slice(0, cursor - 1) + value.slice(cursor));
        return setCursor(cursor - 1);
      }
      if (key.ctrl || key.meta) return;
      const text = input.replace(/[\u0000-\u001f\u007f]/g, '');
      if (!text) return;
      onChange(value.slice(0, cursor) + text + value.slice(cursor));
      setCursor(cursor + text.length);
    },
    { isActive: focused },
  );
  const shown = mask ? '*'.repeat(value.length) : value;
  const room = Math.max(1, width - 1);
  const start = Math.max(0, Math.min(cursor - room + 1, textWidth(shown) - room + 1));
  const visible = [...shown].slice(Math.max(0, start), Math.max(0, start) + room).join('');
  const pos = cursor - Math.max(0, start);
  if (!value && placeholder && !focused) return <Text color={theme.colour.muted}>{placeholder.slice(0, width)}</Text>;
  if (!focused) return <Text>{visible.padEnd(Math.min(width, textWidth(visible)))}</Text>;
  const before = [...visible].slice(0, pos).join('');
  const at = [...visible][pos] ?? ' ';
  const after = [...visible].slice(pos + 1).join('');
  return (
    <Text>
      <Text color={theme.colour.accent}>{before}</Text>
      <Text inverse>{theme.attributes ? at : at === ' ' ? '_' : at}</Text>
      <Text color={theme.colour.accent}>{after}</Text>
    </Text>
  );
}
