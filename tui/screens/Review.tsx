import { Box, Text } from 'ink';
import { useMemo, useState } from 'react';
import type { Checked, Review } from '../../ops/console-session.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Frame } from '../components/Frame.tsx';
import { clampOffset, ScrollText } from '../components/ScrollText.tsx';
import { TextField } from '../components/TextField.tsx';
import { useScreen } from '../hooks/useScreen.ts';
import { useAsync } from '../hooks/useAsync.ts';
import { movement, type Binding } from '../keys.ts';
import { toRecipe } from '../model/wizard.ts';
import { fit, wrap } from '../text.ts';
import { Prompt, quitKeys } from './common.tsx';

export function ReviewScreen() {
  const { session, w, theme, width, height, confirm, spin } = useScreen();
  const recipe = toRecipe(w.state);
  const review = useAsync<Checked<Review>>(() => (recipe ? session.review(recipe) : Promise.resolve({ ok: false as const, reasons: ['choose a disk and an image first'] })), []);
  const [typed, setTyped] = useState('');
  const [offset, setOffset] = useState(0);
  const [message, setMessage] = useState<{ text: string; tone: 'bad' | 'ok' | 'warn' }>();
  const [starting, setStarting] = useState(false);

  const ok = review.status === 'ok' && review.value.ok ? review.value.value : undefined;
  const lines = useMemo(() => {
    if (review.status === 'loading') return [`${spin} planning (the same checks as shoal-install plan)...`];
    if (review.status === 'error') return wrap(review.error.message, width);
    if (!review.value.ok)
      return [
        'The plan was refused; nothing will be written:',
        ...review.value.reasons.flatMap((r) => wrap(`${theme.glyphs.bullet} ${r}`, width, '  ')),
        '',
        'Esc: go back and change it.',
      ];
    return review.value.value.text
      .trimEnd()
      .split('\n')
      .flatMap((l) => wrap(l, width, '    '));
  }, [review, width, spin, theme]);
  const onDisk = ok?.onDisk;
  const viewHeight = height - (onDisk ? 6 : 5);

  const start = async () => {
    if (!ok || starting) return;
    if (typed.trim() !== ok.confirmName) {
      setMessage({ text: `Refused: "${typed.trim()}" is not this disk's name (${ok.confirmName}). Nothing was written.`, tone: 'bad' });
      setTyped('');
      return;
    }
    setStarting(true);
    setMessage({ text: 'Starting the install...', tone: 'warn' });
    const reasons = await w.install.start(ok);
    if (reasons) {
      setStarting(false);
      setTyped('');
      setMessage({ text: `Refused: ${reasons[0]}`, tone: 'bad' });
    }
  };
  const scroll = (input: string, key: Parameters<Binding['run']>[1]) => {
    const how = movement(input, key);
    const page = Math.max(1, viewHeight - 2);
    const delta = { up: -1, down: 1, pageUp: -page, pageDown: page, home: -1e9, end: 1e9 }[how ?? 'down'];
    setOffset((o) => clampOffset(o + delta, lines.length, viewHeight - 1));
  };
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        { key: 'move', label: 'scroll', run: scroll },
        { key: 'page', label: 'page', run: scroll },
        ...(ok ? [{ key: 'enter' as const, label: 'erase and install', run: () => void start() }] : []),
        { key: 'back', label: 'back', run: w.back },
        ...quitKeys(confirm, w, false),
      ];
  const d = ok?.prepared.plan.disk;
  const head = d
    ? `Erase ${d.name} (${formatBytes(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}) and install ${ok!.prepared.plan.os === 'windows' ? 'Windows' : 'Linux'}.`
    : 'Review the plan';
  return (
    <Frame screen="review" keys={keys}>
      <Text bold color={d ? theme.colour.warn : undefined}>
        {fit(head, width, theme.glyphs.ellipsis)}
      </Text>
      <ScrollText
        lines={lines}
        height={viewHeight}
        width={width}
        offset={offset}
        colourOf={(l) => (l.startsWith('WILL BE DESTROYED') ? theme.colour.bad : /^\s+! /.test(l) ? theme.colour.warn : undefined)}
      />
      <Box flexGrow={1} />
      <Text color={theme.colour.muted}>{theme.glyphs.rule.repeat(width)}</Text>
      {ok && onDisk ? <Text color={theme.colour.warn}>{fit(`On ${ok.confirmName} now (will be erased): ${onDisk}`, width, theme.glyphs.ellipsis)}</Text> : null}
      {ok ? (
        <Box height={1}>
          <Text bold>{fit(`Type the disk's name (${ok.confirmName}) to erase it and install: `, width - 12)}</Text>
          <TextField value={typed} onChange={setTyped} focused={!starting} width={12} />
        </Box>
      ) : (
        <Text color={theme.colour.muted}>{review.status === 'loading' ? ' ' : 'Nothing can be installed until the plan is accepted.'}</Text>
      )}
      <Prompt confirm={confirm} message={message?.text} tone={message?.tone} />
    </Frame>
  );
}
