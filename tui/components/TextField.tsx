import { Text, type Key } from 'ink';
import { useExpectCommit, useKeys } from '../hooks/useKeys.tsx';
import { useRef, useState } from 'react';
import { useTheme } from '../context.tsx';

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
 * One line of text input: typing (and pasting), Backspace, Delete, Left/Right, Home/End, Ctrl+U (clear).
 * Enter, Esc, Tab and Up/Down are left to the screen. Keys are applied to the field's own latest text at once,
 * so fast typing over a slow console loses nothing between two frames.
 */
export function TextField({ value, onChange, focused, width, mask, placeholder }: TextFieldProps) {
  const theme = useTheme();
  const st = useRef({ value, cursor: value.length, seen: value });
  if (value !== st.current.seen) {
    // Changed from outside (a preset, a reset): take it, cursor at the end.
    st.current = { value, cursor: value.length, seen: value };
  }
  const [, redraw] = useState(0);
  const expectCommit = useExpectCommit();

  const onKey = (input: string, key: Key) => {
    if (key.return || key.escape || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return;
    const s = st.current;
    let { value: v, cursor: c } = s;
    if (key.leftArrow) c = Math.max(0, c - 1);
    else if (key.rightArrow) c = Math.min(v.length, c + 1);
    else if (key.home || (key.ctrl && input === 'a')) c = 0;
    else if (key.end || (key.ctrl && input === 'e')) c = v.length;
    else if (key.ctrl && input === 'u') {
      v = '';
      c = 0;
    } else if (key.backspace || key.delete) {
      // Consoles send DEL (0x7f) for Backspace, which Ink names "delete": both erase to the left.
      if (c === 0) return;
      v = v.slice(0, c - 1) + v.slice(c);
      c -= 1;
    } else if (key.ctrl || key.meta) return;
    else {
      const text = input.replace(/[\u0000-\u001f\u007f]/g, '');
      if (!text) return;
      v = v.slice(0, c) + text + v.slice(c);
      c += text.length;
    }
    const changed = v !== s.value;
    st.current = { value: v, cursor: c, seen: changed ? v : s.seen };
    if (changed) {
      st.current.seen = v;
      onChange(v);
    }
    // The screen's own state (what its Enter reads) changes with this frame: no key may go before it.
    expectCommit();
    redraw((n) => n + 1);
  };
  useKeys(onKey, { isActive: focused });

  const { cursor } = st.current;
  const shown = mask ? '*'.repeat(value.length) : value;
  const chars = [...shown];
  const room = Math.max(1, width - 1);
  const start = Math.max(0, Math.min(cursor - room + 1, chars.length - room + 1));
  const visible = chars.slice(start, start + room);
  const pos = Math.min(cursor - start, visible.length);
  if (!value && placeholder && !focused) return <Text color={theme.colour.muted}>{placeholder.slice(0, width)}</Text>;
  if (!focused) return <Text>{visible.join('')}</Text>;
  const at = visible[pos] ?? ' ';
  return (
    <Text>
      <Text color={theme.colour.accent}>{visible.slice(0, pos).join('')}</Text>
      <Text inverse>{theme.attributes ? at : at === ' ' ? '_' : at}</Text>
      <Text color={theme.colour.accent}>{visible.slice(pos + 1).join('')}</Text>
    </Text>
  );
}
