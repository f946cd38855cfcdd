import { Box, Text } from 'ink';
import { useState } from 'react';
import { useKeys } from '../hooks/useKeys.tsx';
import type { Checked } from '../../ops/console-session.ts';
import type { Plan } from '../../ops/plan.ts';
import { FORMATS, type Format } from '../../ops/recipe.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Frame } from '../components/Frame.tsx';
import { ListView, moveIndex } from '../components/ListView.tsx';
import { TextField } from '../components/TextField.tsx';
import { useTheme } from '../context.tsx';
import { useScreen } from '../hooks/useScreen.ts';
import { useAsync } from '../hooks/useAsync.ts';
import { movement, type Binding } from '../keys.ts';
import { addPartition, cloneParts, presetsFor, type PartitionDraft, type Preset } from '../model/layouts.ts';
import { toRecipe } from '../model/wizard.ts';
import { fit, padEnd, wrap } from '../text.ts';
import { Prompt, quitKeys } from './common.tsx';

type Focus = 'presets' | 'table' | 'edit';
const FIELDS = ['size', 'format', 'type_guid', 'label', 'mountpoint'] as const;
type EditField = (typeof FIELDS)[number];
const FIELD_LABEL: Record<EditField, string> = { size: 'Size', format: 'Format', type_guid: 'Type', label: 'Label', mountpoint: 'Mountpoint' };
const FIELD_HELP: Record<EditField, string> = {
  size: '512M, 20G, 1.5T, or 100% for the rest (last only)',
  format: 'Left/Right to change',
  type_guid: 'ef00 ESP, 8300 Linux, 8200 swap, 0700 data, 0c01 MSR',
  label: 'vfat 11, ext4 16, xfs 12 characters at most',
  mountpoint: '/, /boot, /boot/efi, /var...; empty: not mounted',
};

/** A preset's refusal in a few words; choosing it shows the planner's full reasons. */
function presetVerdict(reasons: string[]): string {
  if (reasons.some((r) => r.includes('does not fit'))) return 'too big for this disk';
  const mount = reasons.map((r) => /cannot mount (\S+)/.exec(r)?.[1]).find(Boolean);
  if (mount) return `refused: this kernel cannot mount ${mount}`;
  return `refused (${reasons.length} reason${reasons.length > 1 ? 's' : ''}: Enter shows them)`;
}

function row(p: PartitionDraft, i: number, planned: Plan | undefined, w: number) {
  const size = planned?.partitions[i] ? formatBytes(planned.partitions[i].sizeBytes) : '-';
  return fit(
    `${String(i + 1).padStart(2)}  ${padEnd(p.size, 7)} ${padEnd(size, 10)} ${padEnd(p.type_guid || 'auto', 6)} ${padEnd(p.format, 6)} ${padEnd(p.mountpoint || '-', 12)} ${p.label}`,
    w,
  );
}

export function LayoutScreen() {
  const { session, w, theme, width, height, confirm, spin } = useScreen();
  const os = w.state.image?.os ?? 'linux';
  const disk = w.state.disk!;
  const presets = presetsFor(os);
  const layout = w.state.layout;
  const [focus, setFocus] = useState<Focus>('table');
  const [pi, setPi] = useState(
    Math.max(
      0,
      presets.findIndex((p) => p.id === w.state.presetId),
    ),
  );
  const [ri, setRi] = useState(0);
  const [draft, setDraft] = useState<PartitionDraft | undefined>();
  const [field, setField] = useState(0);
  const [message, setMessage] = useState<string>();

  const rows = draft ? layout.map((p, i) => (i === ri ? draft : p)) : layout;
  const key = JSON.stringify(rows);
  const check = useAsync<Checked<Plan>>(() => session.check(toRecipe({ ...w.state, layout: rows })!, disk.facts), [key], { keepPrevious: true });
  const presetFit = useAsync(() => Promise.all(presets.map((p) => session.check(toRecipe({ ...w.state, layout: p.parts })!, disk.facts))), [disk.facts.path, os]);
  const planned = check.status === 'ok' && check.value.ok ? check.value.value : undefined;

  const setLayout = (next: PartitionDraft[], presetId?: string) => w.dispatch({ type: 'layout', layout: next, presetId });
  const move = (input: string, k: Parameters<Binding['run']>[1]) => {
    const how = movement(input, k) ?? 'down';
    setMessage(undefined);
    if (focus === 'presets') setPi((i) => moveIndex(presets.length, i, how));
    else setRi((i) => moveIndex(rows.length, i, how));
  };
  const next = () => {
    if (check.status !== 'ok') return setMessage('still checking the layout');
    if (!check.value.ok) return setMessage('the engine refuses this layout: fix what it says first');
    w.go('settings');
  };
  const cycleFormat = (dir: 1 | -1) => setDraft((d) => (d ? { ...d, format: FORMATS[(FORMATS.indexOf(d.format) + dir + FORMATS.length) % FORMATS.length] as Format } : d));
  let keys: Binding[];
  if (confirm.asking) keys = confirm.bindings;
  else if (focus === 'edit' && draft) {
    keys = [
      { key: 'tab', label: 'next field', run: () => setField((f) => (f + 1) % FIELDS.length) },
      { key: 'move', label: 'field', run: (input, k) => setField((f) => (movement(input, k) === 'up' ? (f + FIELDS.length - 1) % FIELDS.length : (f + 1) % FIELDS.length)) },
      {
        key: 'enter',
        label: 'keep',
        run: () => {
          setLayout(rows);
          setDraft(undefined);
          setFocus('table');
        },
      },
      {
        key: 'back',
        label: 'cancel',
        run: () => {
          setDraft(undefined);
          setFocus('table');
        },
      },
      ...quitKeys(confirm, w, false),
    ];
  } else if (focus === 'presets') {
    keys = [
      { key: 'move', label: 'move', run: move },
      {
        key: 'enter',
        label: 'use preset',
        run: () => {
          const p = presets[pi] as Preset;
          setLayout(cloneParts(p.parts), p.id);
          setRi(0);
          setFocus('table');
        },
      },
      { key: 'tab', label: 'partitions', run: () => setFocus('table') },
      { key: 'next', label: 'next', run: next },
      { key: 'back', label: 'back', run: w.back },
      ...quitKeys(confirm, w),
    ];
  } else {
    keys = [
      { key: 'move', label: 'move', run: move },
      {
        key: 'enter',
        label: 'edit',
        run: () => {
          if (!rows[ri]) return;
          setDraft({ ...rows[ri]! });
          setField(0);
          setFocus('edit');
        },
      },
      {
        key: 'add',
        label: 'add',
        run: () => {
          const added = addPartition(rows, os);
          setLayout(added.parts);
          setRi(added.index);
        },
      },
      {
        key: 'delete',
        label: 'delete',
        run: () => {
          if (rows.length <= 1) return setMessage('a layout needs at least one partition');
          setLayout(rows.filter((_, i) => i !== ri));
          setRi((i) => Math.max(0, Math.min(i, rows.length - 2)));
        },
      },
      { key: 'tab', label: 'presets', run: () => setFocus('presets') },
      { key: 'next', label: 'next', run: next },
      { key: 'back', label: 'back', run: w.back },
      ...quitKeys(confirm, w),
    ];
  }
  const editing = focus === 'edit' && draft;
  const presetLines = editing ? 0 : presets.length + 1;
  const formLines = editing ? FIELDS.length + 1 : 0;
  const tableRows = Math.min(rows.length, 5);
  const fixed = 1 + presetLines + formLines + 2 + tableRows + 1 + 1;
  const resultLines = Math.max(1, height - fixed);
  const result: { text: string; colour?: string }[] = [];
  if (check.status === 'loading') result.push({ text: `${spin} checking with the planner` });
  else if (check.status === 'error') result.push({ text: check.error.message, colour: theme.colour.bad });
  else if (check.value.ok) {
    const p = check.value.value;
    result.push({ text: `Fits ${disk.facts.name} (${formatBytes(disk.facts.sizeBytes)}): ${p.partitions.length} partitions, the planner accepts it.`, colour: theme.colour.ok });
    for (const warning of p.warnings) result.push(...wrap(`${theme.glyphs.warn} ${warning}`, width, '  ').map((text) => ({ text, colour: theme.colour.warn })));
  } else {
    result.push({ text: 'Refused by the planner:', colour: theme.colour.bad });
    for (const r of check.value.reasons) result.push(...wrap(`${theme.glyphs.bullet} ${r}`, width, '  ').map((text) => ({ text, colour: theme.colour.bad })));
  }
  const shownResult =
    result.length > resultLines ? [...result.slice(0, resultLines - 1), { text: `(+${result.length - resultLines + 1} more lines)`, colour: theme.colour.muted }] : result;

  return (
    <Frame screen="layout" keys={keys}>
      <Text bold>{fit(`Partitions for ${os === 'windows' ? 'Windows' : 'Linux'} on ${disk.facts.name} (${formatBytes(disk.facts.sizeBytes)})`, width, theme.glyphs.ellipsis)}</Text>
      {!editing ? (
        <Box flexDirection="column">
          <Text color={focus === 'presets' ? theme.colour.accent : theme.colour.muted}>Presets</Text>
          <ListView
            items={presets}
            index={pi}
            height={presets.length}
            focused={focus === 'presets'}
            row={(p) => {
              const i = presets.indexOf(p);
              const fitState = presetFit.status === 'ok' ? presetFit.value[i] : undefined;
              const verdict = !fitState ? '' : fitState.ok ? 'fits' : presetVerdict(fitState.reasons);
              return fit(`${padEnd(p.name, 22)} ${padEnd(p.id === w.state.presetId ? '(in use)' : '', 9)} ${verdict}`, width - 2, theme.glyphs.ellipsis);
            }}
          />
        </Box>
      ) : (
        <Box flexDirection="column">
          <Text color={theme.colour.accent}>{`Edit partition ${ri + 1}`}</Text>
          {FIELDS.map((f, i) => (
            <Box key={f} height={1}>
              <Text color={i === field ? theme.colour.accent : theme.colour.muted}>{`${i === field ? theme.glyphs.pointer : ' '} ${padEnd(FIELD_LABEL[f], 11)}`}</Text>
              {f === 'format' ? (
                <FormatField value={draft!.format} focused={i === field} onCycle={cycleFormat} />
              ) : (
                <Box width={20}>
                  <TextField value={draft![f]} onChange={(v) => setDraft((d) => (d ? { ...d, [f]: v } : d))} focused={i === field} width={19} />
                </Box>
              )}
              <Text color={theme.colour.muted}>{i === field ? fit(` ${FIELD_HELP[f]}`, width - 33, theme.glyphs.ellipsis) : ''}</Text>
            </Box>
          ))}
        </Box>
      )}
      <Text color={focus === 'table' ? theme.colour.accent : theme.colour.muted}>Partitions</Text>
      <Text color={theme.colour.muted}>
        {fit(`   #  ${padEnd('SIZE', 7)} ${padEnd('PLANNED', 10)} ${padEnd('TYPE', 6)} ${padEnd('FORMAT', 6)} ${padEnd('MOUNT', 12)} LABEL`, width)}
      </Text>
      <ListView items={rows} index={ri} height={tableRows} focused={focus !== 'presets'} row={(p) => row(p, rows.indexOf(p), planned, width - 2)} />
      <Text color={theme.colour.muted}>{theme.glyphs.rule.repeat(width)}</Text>
      {shownResult.map((l, i) => (
        <Text key={i} color={l.colour}>
          {fit(l.text, width, theme.glyphs.ellipsis)}
        </Text>
      ))}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message} tone="bad" />
    </Frame>
  );
}

function FormatField({ value, focused, onCycle }: { value: Format; focused: boolean; onCycle: (dir: 1 | -1) => void }) {
  const theme = useTheme();
  useFormatKeys(focused, onCycle);
  const { left, right } = theme.glyphs;
  return (
    <Box width={20}>
      <Text color={focused ? theme.colour.accent : undefined}>{focused ? `${left} ${padEnd(value, 6)} ${right}` : value}</Text>
    </Box>
  );
}

function useFormatKeys(active: boolean, onCycle: (dir: 1 | -1) => void) {
  useKeys(
    (_input, key) => {
      if (key.leftArrow) onCycle(-1);
      if (key.rightArrow) onCycle(1);
    },
    { isActive: active },
  );
}
