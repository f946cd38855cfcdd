import { Box, Text } from 'ink';
import { formatEta, formatRate } from '../../ops/outputs/line-printer.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { useBody, useTheme } from '../context.tsx';
import type { InstallModel, StepView } from '../model/install.ts';
import type { Theme } from '../theme.ts';
import { fit, formatDuration, padEnd, wrap, wrapMax } from '../text.ts';
import { ProgressBar } from './ProgressBar.tsx';

function stepGlyph(s: StepView, theme: Theme, spin: string): string {
  switch (s.state) {
    case 'done':
      return theme.glyphs.done;
    case 'failed':
      return theme.glyphs.failed;
    case 'running':
      return spin;
    case 'skipped':
      return theme.glyphs.skipped;
    case 'pending':
      return theme.glyphs.pending;
  }
}

function stepColour(s: StepView, theme: Theme) {
  return { done: theme.colour.ok, failed: theme.colour.bad, running: theme.colour.accent, skipped: theme.colour.muted, pending: theme.colour.muted }[s.state];
}

export function StepList({ model, spin, width }: { model: InstallModel; spin: string; width: number }) {
  const theme = useTheme();
  const nameWidth = Math.max(...model.steps.map((s) => s.step.length), 10) + 1;
  return (
    <Box flexDirection="column">
      {model.steps.map((s) => {
        const right = s.state === 'done' && s.durationMs !== undefined ? formatDuration(s.durationMs) : s.state === 'skipped' ? 'skipped' : s.state === 'failed' ? 'FAILED' : '';
        const middle = s.state === 'skipped' && s.note ? s.note : s.title;
        const room = width - 2 - nameWidth - right.length - 1;
        return (
          <Box key={s.step} height={1}>
            <Text color={stepColour(s, theme)} bold={s.state === 'running'}>{`${stepGlyph(s, theme, spin)} ${padEnd(s.step, nameWidth)}`}</Text>
            <Text color={s.state === 'pending' || s.state === 'skipped' ? theme.colour.muted : undefined}>{padEnd(middle, room, theme.glyphs.ellipsis)}</Text>
            <Text color={stepColour(s, theme)}>{` ${right}`}</Text>
          </Box>
        );
      })}
    </Box>
  );
}

export function progressText(p: NonNullable<InstallModel['progress']>): string {
  const files = p.unit === 'files';
  const amount = (n: number) => (files ? `${n} files` : formatBytes(n));
  const of = p.total ? ` of ${amount(p.total)}` : '';
  const rate = files ? `${Math.round(p.rate)} files/s` : formatRate(p.rate);
  const idle = p.idleSeconds !== undefined ? `  no progress for ${p.idleSeconds} s` : '';
  return `${p.phase ? `${p.phase}: ` : ''}${amount(p.bytes)}${of}  ${rate}  ETA ${formatEta(p.etaSeconds)}${idle}`;
}

/** The Install screen's body: steps, the current step's bar and command, and the log tail. Read-only; `reserve` lines are left for the screen. */
export function InstallView({ model, spin, tick, headline, reserve = 0 }: { model: InstallModel; spin: string; tick: number; headline: string; reserve?: number }) {
  const theme = useTheme();
  const { width, height } = useBody();
  const ell = theme.glyphs.ellipsis;
  const elapsed = formatDuration(Math.max(0, Date.now() - model.startedAt));
  const p = model.progress && model.progress.step === model.current ? model.progress : undefined;
  const pct = p?.total ? Math.floor((100 * Math.min(p.bytes, p.total)) / p.total) : undefined;
  const command = model.command ? wrapMax(`$ ${model.command}`, width, 2, ell, '    ') : [];
  const head = wrapMax(headline, width - elapsed.length - 1, 2, ell);
  const fixed = head.length + model.steps.length + 1 + (model.current ? 2 : 0) + command.length + 1 + reserve;
  const tailRoom = Math.max(0, height - fixed);
  const tail = tailRoom
    ? model.lines
        .slice(-tailRoom)
        .flatMap((l) => wrap(l, width, '    '))
        .slice(-tailRoom)
    : [];
  const barWidth = Math.max(10, width - 8);
  return (
    <Box flexDirection="column">
      {head.map((l, i) => (
        <Box key={`h${i}`} height={1}>
          <Text bold>{padEnd(l, width - elapsed.length - 1, ell)}</Text>
          <Text color={theme.colour.muted}>{i === 0 ? ` ${elapsed}` : ''}</Text>
        </Box>
      ))}
      <StepList model={model} spin={spin} width={width} />
      <Text> </Text>
      {model.current ? (
        <Box flexDirection="column">
          <Box height={1}>
            <ProgressBar ratio={p?.total ? p.bytes / p.total : undefined} width={barWidth} tick={tick} />
            <Text>{pct !== undefined ? ` ${String(pct).padStart(3)}%` : '     '}</Text>
          </Box>
          <Text color={p?.idleSeconds !== undefined ? theme.colour.warn : theme.colour.muted}>
            {p ? fit(progressText(p), width, ell) : fit(`${spin} ${model.steps.find((s) => s.step === model.current)?.title ?? ''}`, width, ell)}
          </Text>
        </Box>
      ) : null}
      {command.map((l, i) => (
        <Text key={`c${i}`} color={theme.colour.accent}>
          {l}
        </Text>
      ))}
      <Text color={theme.colour.muted}>{fit(`${theme.glyphs.rule.repeat(2)} log ${theme.glyphs.rule.repeat(width)}`, width, '')}</Text>
      {tail.map((l, i) => (
        <Text key={`l${i}`} color={/^FAILED|^\s+(warn|error):/.test(l) ? theme.colour.bad : undefined}>
          {fit(l, width, ell) || ' '}
        </Text>
      ))}
    </Box>
  );
}
