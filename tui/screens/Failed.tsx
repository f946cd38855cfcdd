import { Box, Text } from 'ink';
import { useState } from 'react';
import { CONSOLE_EXIT } from '../../ops/console-session.ts';
import { Frame } from '../components/Frame.tsx';
import { useBody, useTheme } from '../context.tsx';
import { useConfirm } from '../hooks/useConfirm.ts';
import type { Binding } from '../keys.ts';
import { fit, wrap, wrapMax } from '../text.ts';
import { useWizard } from '../wizard-context.tsx';
import { Prompt } from './common.tsx';

function Body({ tail }: { tail: string[] }) {
  const theme = useTheme();
  const { width, height } = useBody();
  const w = useWizard();
  const model = w.install.feed.model;
  const f = model.failure;
  const step = f ? model.steps.find((s) => s.step === f.step) : undefined;
  const message = wrapMax(f?.message ?? model.result?.message ?? 'the install did not finish', width - 7, 5, theme.glyphs.ellipsis);
  const hint = f?.hint ? wrapMax(f.hint, width - 12, 2, theme.glyphs.ellipsis) : [];
  const title = wrapMax(
    `${theme.glyphs.failed} The install failed at ${f?.step ?? model.result?.failedStep ?? '?'}${step ? ` (${step.title})` : ''}.`,
    width,
    2,
    theme.glyphs.ellipsis,
    '  ',
  );
  const used = title.length + 1 + message.length + hint.length + 2 + 1;
  const room = Math.max(0, height - used - 1);
  const logLines = room
    ? tail
        .slice(-room)
        .flatMap((l) => wrap(l, width, '    '))
        .slice(-room)
    : [];
  return (
    <Box flexDirection="column">
      {title.map((l, i) => (
        <Text key={`t${i}`} bold color={theme.colour.bad}>
          {l}
        </Text>
      ))}
      <Text> </Text>
      {message.map((l, i) => (
        <Text key={`m${i}`}>
          <Text color={theme.colour.muted}>{i === 0 ? 'Error  ' : '       '}</Text>
          <Text color={theme.colour.bad}>{l}</Text>
        </Text>
      ))}
      {hint.map((l, i) => (
        <Text key={`h${i}`}>
          <Text color={theme.colour.muted}>{i === 0 ? 'What to do  ' : '            '}</Text>
          <Text color={theme.colour.warn}>{l}</Text>
        </Text>
      ))}
      <Text> </Text>
      <Text color={theme.colour.muted}>{fit(`${theme.glyphs.rule.repeat(2)} last log lines ${theme.glyphs.rule.repeat(width)}`, width, '')}</Text>
      {logLines.map((l, i) => (
        <Text key={`l${i}`}>{fit(l, width, theme.glyphs.ellipsis) || ' '}</Text>
      ))}
    </Box>
  );
}

export function FailedScreen({ openLog }: { openLog: () => void }) {
  const w = useWizard();
  const confirm = useConfirm();
  const [message, setMessage] = useState<string>();
  const model = w.install.feed.model;
  const keys: Binding[] = confirm.asking
    ? confirm.bindings
    : [
        {
          key: 'retry',
          label: 'retry',
          run: () =>
            confirm.ask('Run the same plan again? The disk is wiped again first.', () => {
              void w.install.retry().then((reasons) => reasons && setMessage(`Refused: ${reasons[0]}`));
            }),
        },
        { key: 'back', label: 'change the plan', run: () => w.go('review') },
        { key: 'log', label: 'full log', run: openLog },
        { key: 'shell', label: 'shell', run: () => w.exit(CONSOLE_EXIT.shell) },
        { key: 'quit', label: 'quit', run: () => confirm.ask('Leave the installer? The disk is not installed.', () => w.exit(CONSOLE_EXIT.failed), 'quit', 'stay') },
        {
          key: 'interrupt',
          label: 'quit',
          hidden: true,
          run: () => confirm.ask('Leave the installer? The disk is not installed.', () => w.exit(CONSOLE_EXIT.failed), 'quit', 'stay'),
        },
      ];
  return (
    <Frame screen="failed" keys={keys}>
      <Body tail={model.lines} />
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message} tone="bad" />
    </Frame>
  );
}
