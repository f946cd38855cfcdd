import { Box, Text } from 'ink';
import { useState } from 'react';
import type { DiskChoice } from '../../ops/console-session.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Frame } from '../components/Frame.tsx';
import { ListView, moveIndex } from '../components/ListView.tsx';
import { useBody, useTheme } from '../context.tsx';
import { useScreen } from '../hooks/useScreen.ts';
import { useAsync } from '../hooks/useAsync.ts';
import { movement, type Binding } from '../keys.ts';
import { fit, padEnd, wrap } from '../text.ts';
import { Loading, Prompt, quitKeys } from './common.tsx';

const shortBlocker = (d: DiskChoice) => (d.bootMedium ? 'boot medium' : d.facts.readOnly ? 'read-only' : 'in use');
const bus = (d: DiskChoice) => (d.facts.kind === 'image' ? 'file' : (d.facts.transport ?? ''));

/** The hints' mark: `*` the disk they chose, `?` one of several they match, `x` one they ruled out. */
const HINT_MARK = { chosen: '* ', matches: '? ', 'ruled out': 'x ' } as const;
const HINT_TAIL = { chosen: 'chosen by hints', matches: 'matches hints', 'ruled out': 'ruled out' } as const;
const HINT_LINE = { chosen: "Chosen by the recipe's hints: ", matches: "Matches the recipe's hints: ", 'ruled out': "Ruled out by the recipe's hints: " } as const;
const hintMark = (d: DiskChoice) => (d.hint ? HINT_MARK[d.hint.verdict] : '');

function diskRow(d: DiskChoice, w: number) {
  const f = d.facts;
  const state = d.blockers.length ? shortBlocker(d) : f.kind === 'image' ? 'disk image file' : (f.serial ?? '');
  const tail = d.hint ? `${HINT_TAIL[d.hint.verdict]}${state ? ` ${state}` : ''}` : state;
  return fit(`${hintMark(d)}${padEnd(f.name, 12)} ${padEnd(formatBytes(f.sizeBytes), 10)} ${padEnd(bus(d), 6)} ${padEnd(f.model ?? '', 22)} ${tail}`, w);
}

function Details({ disk, lines }: { disk: DiskChoice; lines: number }) {
  const theme = useTheme();
  const { width } = useBody();
  const f = disk.facts;
  const ell = theme.glyphs.ellipsis;
  const head = [f.kind === 'image' ? f.path : f.path, formatBytes(f.sizeBytes), f.model, bus(disk)].filter(Boolean).join('  ');
  const ids = [f.serial && `serial ${f.serial}`, f.wwn && `WWN ${f.wwn}`, f.transport && `transport ${f.transport}`, `${f.sectorSize}-byte sectors`].filter(Boolean).join('  ');
  const paths =
    f.kind === 'image'
      ? ''
      : `by-path ${f.byPath?.[0] ?? 'unknown'}${f.hctl ? `  HCTL ${f.hctl}` : ''}${f.rotational === undefined ? '' : f.rotational ? '  rotational' : '  solid state'}`;
  const table = f.partitionTable
    ? `${f.partitionTable.toUpperCase()}, ${f.partitions.length} partition(s)`
    : f.kind === 'image'
      ? 'an image file: attached as a loop device for the install'
      : 'no partition table';
  const out: { text: string; colour?: string }[] = [
    { text: head },
    { text: ids, colour: theme.colour.muted },
    ...(paths ? [{ text: paths, colour: theme.colour.muted }] : []),
    ...(disk.hint
      ? [{ text: `${HINT_LINE[disk.hint.verdict]}${disk.hint.reasons.join('; ')}`, colour: disk.hint.verdict === 'chosen' ? theme.colour.ok : theme.colour.warn }]
      : []),
    { text: `${table}${disk.found ? `   Found: ${disk.found}` : ''}` },
  ];
  const reasons = disk.blockers.flatMap((r, i) => wrap(`${i === 0 ? 'Cannot be chosen: ' : '  '}${r}`, width, '    '));
  const partRoom = Math.max(0, lines - out.length - reasons.length);
  const labelWidth = Math.min(18, Math.max(0, ...f.partitions.map((p) => (p.label ? p.label.length + 2 : 0))));
  const nameWidth = Math.max(4, ...f.partitions.map((p) => p.path.replace('/dev/', '').length));
  const parts = f.partitions.map(
    (p) =>
      `  ${padEnd(p.path.replace('/dev/', ''), nameWidth)} ${padEnd(formatBytes(p.sizeBytes), 10)} ${padEnd(p.fstype ?? '', 6)} ${padEnd(p.label ? `"${p.label}"` : '', labelWidth)} ${p.typeName ?? ''}${p.mountpoints.length ? `  at ${p.mountpoints.join(',')}` : ''}`,
  );
  const shown = parts.length > partRoom ? [...parts.slice(0, Math.max(0, partRoom - 1)), `  +${parts.length - Math.max(0, partRoom - 1)} more partitions`] : parts;
  out.push(...shown.slice(0, partRoom).map((text) => ({ text })));
  out.push(...reasons.map((text) => ({ text, colour: theme.colour.bad })));
  return (
    <Box flexDirection="column">
      {out.slice(0, lines).map((l, i) => (
        <Text key={i} color={l.colour}>
          {fit(l.text, width, ell) || ' '}
        </Text>
      ))}
    </Box>
  );
}

export function DiskScreen() {
  const { session, w, theme, width, height, confirm, spin } = useScreen();
  const disks = useAsync(() => session.disks(), []);
  const [picked, setIndex] = useState<number | undefined>();
  const [message, setMessage] = useState<{ text: string; tone: 'bad' | 'ok' } | undefined>();
  const list = disks.status === 'ok' ? disks.value : [];
  // Until the technician moves: the disk chosen before, else the first one that can be chosen.
  const chosen = list.findIndex((d) => d.facts.path === w.state.disk?.facts.path);
  const start =
    chosen >= 0
      ? chosen
      : Math.max(
          0,
          list.findIndex((d) => !d.blockers.length),
        );
  const index = Math.min(picked ?? start, Math.max(0, list.length - 1));
  const current = list[index];
  const choose = () => {
    if (!current) return;
    if (current.blockers.length) {
      setMessage({ text: `${current.facts.name} cannot be chosen: ${current.blockers[0]}`, tone: 'bad' });
      return;
    }
    w.dispatch({ type: 'disk', disk: current });
    w.go('image');
  };
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        {
          key: 'move',
          label: 'move',
          run: (input, key) => {
            setMessage(undefined);
            setIndex(moveIndex(list.length, index, movement(input, key) ?? 'down'));
          },
        },
        { key: 'page', label: 'page', hidden: true, run: (input, key) => setIndex(moveIndex(list.length, index, movement(input, key) ?? 'down')) },
        { key: 'enter', label: 'choose', run: choose },
        { key: 'back', label: 'back', run: w.back },
        { key: 'refresh', label: 'refresh', run: () => (setIndex(undefined), disks.reload()) },
        ...quitKeys(confirm, w),
      ];
  const listHeight = Math.min(Math.max(1, list.length), Math.max(3, Math.floor((height - 4) / 2)));
  return (
    <Frame screen="disk" keys={keys}>
      <Text bold>{`Install onto which disk? Everything on it will be erased.`}</Text>
      <Text color={theme.colour.muted}>
        {fit(`  ${list.some((d) => d.hint) ? '  ' : ''}${padEnd('NAME', 12)} ${padEnd('SIZE', 10)} ${padEnd('BUS', 6)} ${padEnd('MODEL', 22)} SERIAL / STATE`, width)}
      </Text>
      {disks.status === 'loading' ? <Loading what="looking for disks (lsblk)" spin={spin} /> : null}
      {disks.status === 'error' ? <Text color={theme.colour.bad}>{fit(disks.error.message, width, theme.glyphs.ellipsis)}</Text> : null}
      {disks.status === 'ok' ? (
        <ListView
          items={list}
          index={index}
          height={listHeight}
          row={(d) => diskRow(d, width - 2)}
          disabled={(d) => d.blockers.length > 0}
          empty="No disks found. Press r to look again."
        />
      ) : null}
      <Text color={theme.colour.muted}>{theme.glyphs.rule.repeat(width)}</Text>
      {current ? <Details disk={current} lines={height - listHeight - 5} /> : null}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message?.text} tone={message?.tone} />
    </Frame>
  );
}
