import { Box, Text } from 'ink';
import { useState } from 'react';
import { CONSOLE_EXIT } from '../../ops/console-session.ts';
import { Frame, useFrameSize } from '../components/Frame.tsx';
import { clampOffset, ScrollText } from '../components/ScrollText.tsx';
import { useSession, useTheme } from '../context.tsx';
import { useConfirm } from '../hooks/useConfirm.ts';
import { movement, type Binding } from '../keys.ts';
import { totalDuration, type InstallModel } from '../model/install.ts';
import type { Theme } from '../theme.ts';
import { formatDuration, padEnd } from '../text.ts';
import { useWizard } from '../wizard-context.tsx';
import { Prompt } from './common.tsx';

/** The finished install as lines: each step's time, the image digest, every partition's UUIDs. */
export function summaryLines(model: InstallModel, theme: Theme, width = 76): string[] {
  const r = model.result;
  if (!r) return [];
  const out: string[] = ['Steps'];
  const w = Math.max(...model.steps.map((s) => s.step.length)) + 1;
  for (const s of model.steps) {
    const done = r.steps.find((x) => x.step === s.step);
    const glyph = done ? theme.glyphs.done : s.state === 'skipped' ? theme.glyphs.skipped : s.state === 'failed' ? theme.glyphs.failed : theme.glyphs.pending;
    out.push(`  ${glyph} ${padEnd(s.step, w)} ${done ? formatDuration(done.durationMs) : s.state === 'skipped' ? `skipped: ${s.note ?? ''}` : s.state}`);
  }
  out.push('', 'Image digest', `  ${r.imageDigest ?? '(not pulled)'}`, '', 'Partitions');
  const devWidth = Math.max(0, ...r.partitions.map((p) => (p.device || '-').length));
  const mountWidth = Math.max(1, ...r.partitions.map((p) => (p.mountpoint ?? '-').length));
  for (const p of r.partitions) {
    const head = `  ${String(p.number).padStart(2)} ${padEnd(p.device || '-', devWidth)} ${padEnd(p.mountpoint ?? '-', mountWidth)}${p.label ? ` "${p.label}"` : ''}`;
    const uuid = `UUID ${p.fsUuid ?? '-'}`;
    if (head.length + 2 + uuid.length <= width) out.push(`${head}  ${uuid}`);
    else out.push(head, `     ${uuid}`);
    out.push(`     PARTUUID ${p.partGuid}`);
  }
  return out;
}

export function DoneScreen({ openLog }: { openLog: () => void }) {
  const session = useSession();
  const w = useWizard();
  const theme = useTheme();
  const { width, height } = useFrameSize().body;
  const confirm = useConfirm();
  const model = w.install.feed.model;
  const [offset, setOffset] = useState(0);
  const [message, setMessage] = useState<{ text: string; tone: 'bad' | 'warn' }>();
  const lines = summaryLines(model, theme, width);
  const room = height - 4;
  const power = (action: 'reboot' | 'poweroff') => {
    setMessage({ text: action === 'reboot' ? 'Rebooting...' : 'Powering off...', tone: 'warn' });
    session.power(action).then(
      () => w.exit(CONSOLE_EXIT.done),
      (e: Error) => setMessage({ text: `${action} failed: ${e.message}`, tone: 'bad' }),
    );
  };
  const scroll = (input: string, key: Parameters<Binding['run']>[1]) => {
    const how = movement(input, key) ?? 'down';
    setOffset((o) => clampOffset(o + { up: -1, down: 1, pageUp: -room, pageDown: room, home: -1e9, end: 1e9 }[how], lines.length, room - 1));
  };
  const skipped = model.steps.some((s) => s.state === 'skipped');
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        { key: 'reboot', label: 'reboot', run: () => confirm.ask('Reboot now? Remove the maintenance media if it boots first.', () => power('reboot'), 'reboot', 'no') },
        { key: 'poweroff', label: 'power off', run: () => confirm.ask('Power off now?', () => power('poweroff'), 'power off', 'no') },
        { key: 'shell', label: 'shell', run: () => w.exit(CONSOLE_EXIT.shell) },
        { key: 'log', label: 'log', run: openLog },
        { key: 'move', label: 'scroll', run: scroll },
        { key: 'page', label: 'page', hidden: true, run: scroll },
        { key: 'interrupt', label: 'quit', hidden: true, run: () => w.exit(CONSOLE_EXIT.done) },
      ];
  const r = model.result!;
  return (
    <Frame screen="done" keys={keys}>
      <Text bold color={theme.colour.ok}>
        {`${theme.glyphs.done} Installed ${w.install.review?.prepared.plan.os === 'windows' ? 'Windows' : 'Linux'} onto ${w.install.review?.prepared.plan.disk.name ?? 'the disk'} in ${formatDuration(totalDuration(r))}.`}
      </Text>
      <Text color={skipped ? theme.colour.warn : undefined}>
        {skipped ? 'Some steps were left out (--stop-before): the disk will not boot as it is.' : 'The disk is ready to boot.'}
      </Text>
      <ScrollText lines={lines} height={room} width={width} offset={offset} />
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message?.text} tone={message?.tone} />
    </Frame>
  );
}
